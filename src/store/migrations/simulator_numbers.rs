//! The step after which the numbers simulated phones hold or talk to are kept in a table of
//! their own (`store::simulator_numbers`), filled from the devices' stored definitions.
//!
//! Before it, creating a device read and parsed every stored definition to find a number no
//! phone had, so linking a fleet took time that grew with the square of its size: 597.6 s for
//! 10,000 devices (docs/performance.md, fleet). The rule for which numbers count is the one
//! `simulator_numbers::assignable` states: the JSON paths below read what `DeviceSpec`
//! serializes, and a definition is always JSON that serde wrote.

/// SQLite: a number is digits with no leading zero, at most 18 of them, from 15550000001 up.
pub(in crate::store) const SQLITE: &str = "
    CREATE TABLE simulator_numbers (
        device_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        PRIMARY KEY (device_id, number)
    ) WITHOUT ROWID;
    CREATE INDEX simulator_numbers_by_number ON simulator_numbers (number);
    CREATE TABLE simulator_numbers_free_from (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        number INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO simulator_numbers (device_id, number)
    SELECT device_id, CAST(number AS INTEGER) FROM (
        SELECT id AS device_id, json_extract(settings, '$.simulator.phone') AS number
        FROM devices WHERE connector = 'simulator'
        UNION ALL
        SELECT d.id, substr(c.value ->> 'id', 1, instr((c.value ->> 'id') || '@', '@') - 1)
        FROM devices d, json_each(d.settings, '$.simulator.contacts') c
        WHERE d.connector = 'simulator'
    )
    WHERE number GLOB '[1-9]*' AND number NOT GLOB '*[^0-9]*' AND length(number) <= 18
        AND CAST(number AS INTEGER) >= 15550000001;";

/// PostgreSQL: the same rule, the cast only of what the pattern let through.
pub(in crate::store) const POSTGRES: &str = r#"
    CREATE TABLE simulator_numbers (
        device_id TEXT COLLATE "C" NOT NULL,
        number BIGINT NOT NULL,
        PRIMARY KEY (device_id, number)
    );
    CREATE INDEX simulator_numbers_by_number ON simulator_numbers (number);
    CREATE TABLE simulator_numbers_free_from (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        number BIGINT NOT NULL
    );
    INSERT INTO simulator_numbers (device_id, number)
    SELECT DISTINCT device_id, number::bigint FROM (
        SELECT id AS device_id, settings::jsonb #>> '{simulator,phone}' AS number
        FROM devices WHERE connector = 'simulator'
        UNION ALL
        SELECT d.id, split_part(c ->> 'id', '@', 1)
        FROM devices d,
            jsonb_array_elements(COALESCE(d.settings::jsonb #> '{simulator,contacts}', '[]')) c
        WHERE d.connector = 'simulator'
    ) named
    WHERE CASE WHEN number ~ '^[1-9][0-9]{0,17}$' THEN number::bigint >= 15550000001
        ELSE false END;"#;

/// Devices as the step before stored them, and the numbers the step must find in them: on
/// either database.
#[cfg(test)]
pub(in crate::store) mod written_before {
    use crate::store::{simulator_numbers, sql::Conn};

    /// `demo` holds its phone and two contacts' numbers, and talks to people whose ids no
    /// phone could have; `shop` shares a contact with it; a WAHA device's definition names a
    /// number it does not hold; `bare` has no contacts and no number.
    pub const ROWS: &str = r#"
        INSERT INTO devices (id, name, connector, settings, source, autostart, wants_running,
            state, session, me, created_at, updated_at)
        VALUES
        ('demo', 'Demo', 'simulator', '{"name":"Demo","simulator":{"phone":"15550000001",
            "contacts":[{"id":"15550000002@c.us"},{"id":"15550000003@c.us"},{"id":"bob@c.us"},
            {"id":"015550000004@c.us"},{"id":"123@c.us"},{"id":"1555000000x@c.us"}]}}',
            'file', 1, 1, 'stopped', NULL, NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
        ('shop', 'Shop', 'simulator', '{"name":"Shop","simulator":{"phone":"15550000006",
            "contacts":[{"id":"15550000002@c.us"}]}}',
            'api', 1, 1, 'stopped', NULL, NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
        ('relay', 'Relay', 'waha', '{"name":"Relay","simulator":{"phone":"15550000004",
            "contacts":[]}}',
            'api', 1, 1, 'stopped', NULL, NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
        ('bare', 'Bare', 'simulator', '{"name":"Bare","simulator":{"contacts":[]}}',
            'api', 1, 1, 'stopped', NULL, NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');"#;

    /// Each number a phone could be given, by the device that names it.
    pub fn held_as_named(conn: &Conn) {
        assert_eq!(
            simulator_numbers::held(conn),
            [
                ("demo".to_owned(), 15_550_000_001),
                ("demo".to_owned(), 15_550_000_002),
                ("demo".to_owned(), 15_550_000_003),
                ("shop".to_owned(), 15_550_000_002),
                ("shop".to_owned(), 15_550_000_006),
            ]
        );
    }
}
