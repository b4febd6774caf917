//! The process's own figures, `process_*` as every Prometheus client library names them, read
//! from `/proc/self` at each scrape. Where `/proc` cannot be read (not Linux), they are left
//! out rather than shown as zero.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

/// Clock ticks per second in `/proc` figures: `USER_HZ`, which Linux fixes at 100 for user
/// space whatever the kernel's own tick rate.
const TICKS_PER_SECOND: f64 = 100.0;

/// Reads `/proc/self` when scraped.
#[derive(Debug, Default)]
pub struct Process;

/// What `/proc/self/stat` says, in the units exposed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    cpu_seconds: f64,
    virtual_bytes: u64,
    /// Clock ticks after boot when the process started.
    started_ticks: u64,
}

/// Reads `/proc/self/stat`: the fields after the command name, which is in parentheses and
/// may itself hold spaces and parentheses.
fn parse_stat(text: &str) -> Option<Stat> {
    let fields: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // `fields[0]` is the 3rd field of proc(5), the state.
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) as f64 / TICKS_PER_SECOND,
        started_ticks: field(22)?,
        virtual_bytes: field(23)?,
    })
}

/// The resident set from `/proc/self/status` (`VmRSS:  1234 kB`), in bytes.
fn parse_resident_bytes(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// The soft limit on open files from `/proc/self/limits`; `None` when unlimited.
fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// When the system booted (`btime` in `/proc/stat`), in seconds since the epoch.
fn parse_boot_time(stat: &str) -> Option<u64> {
    let line = stat.lines().find_map(|line| line.strip_prefix("btime "))?;
    line.trim().parse().ok()
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Encodes one family of a single unlabelled value.
fn encode_one(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    metric: impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    let family = encoder.encode_descriptor(name, help, unit, metric.metric_type())?;
    metric.encode(family)
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let seconds = Some(&Unit::Seconds);
        let bytes = Some(&Unit::Bytes);
        if let Some(stat) = read("/proc/self/stat").as_deref().and_then(parse_stat) {
            let cpu = ConstCounter::new(stat.cpu_seconds);
            let help = "Total user and system CPU time spent";
            encode_one(&mut encoder, "process_cpu", help, seconds, cpu)?;
            let size = ConstGauge::new(stat.virtual_bytes as f64);
            let help = "Virtual memory size";
            encode_one(&mut encoder, "process_virtual_memory", help, bytes, size)?;
            if let Some(boot) = read("/proc/stat").as_deref().and_then(parse_boot_time) {
                let started = boot as f64 + stat.started_ticks as f64 / TICKS_PER_SECOND;
                let help = "Start time of the process since the epoch";
                let started = ConstGauge::new(started);
                encode_one(&mut encoder, "process_start_time", help, seconds, started)?;
            }
        }
        if let Some(resident) = read("/proc/self/status")
            .as_deref()
            .and_then(parse_resident_bytes)
        {
            let help = "Resident memory size";
            let resident = ConstGauge::new(resident as f64);
            encode_one(
                &mut encoder,
                "process_resident_memory",
                help,
                bytes,
                resident,
            )?;
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            let open = ConstGauge::new(entries.count() as i64);
            encode_one(
                &mut encoder,
                "process_open_fds",
                "Open file descriptors",
                None,
                open,
            )?;
        }
        if let Some(max) = read("/proc/self/limits").as_deref().and_then(parse_max_fds) {
            let max = ConstGauge::new(i64::try_from(max).unwrap_or(i64::MAX));
            let help = "Most open file descriptors allowed";
            encode_one(&mut encoder, "process_max_fds", help, None, max)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stat_line_past_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 125 0 0 20 0 9 0 123456 987654321 4000 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                cpu_seconds: 3.75,
                started_ticks: 123456,
                virtual_bytes: 987654321,
            })
        );
        assert_eq!(parse_stat("4242 (cut short) S 1"), None);
    }

    #[test]
    fn reads_the_resident_set_the_open_file_limit_and_the_boot_time() {
        let status = "Name:\tdevicebridge\nVmSize:\t  100000 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(parse_resident_bytes(status), Some(2048 * 1024));
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             127431               127431               processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        assert_eq!(
            parse_max_fds("Max open files  unlimited  unlimited  files"),
            None
        );
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn the_figures_of_this_process_are_read() {
        let stat = read("/proc/self/stat").as_deref().and_then(parse_stat);
        let resident = read("/proc/self/status")
            .as_deref()
            .and_then(parse_resident_bytes);
        if cfg!(target_os = "linux") {
            assert!(stat.is_some_and(|stat| stat.virtual_bytes > 0));
            assert!(resident.is_some_and(|bytes| bytes > 0));
        }
    }
}
