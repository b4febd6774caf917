//! What a statement takes and gives back: the types both databases store the same way, as
//! parameters ([`Param`]) and columns ([`Column`]), and a row of either's answer ([`Row`]).

use crate::store::StoreResult;

/// A value a statement takes: one of the types both databases store the same way.
pub trait Param: Sync {
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync);
}

/// A column's value as read back: one of the types both databases give back the same way.
pub trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self>;
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error>;
}

macro_rules! shared_types {
    ($($param:ty),* ; $($column:ty),*) => {
        $(impl Param for $param {
            fn sqlite(&self) -> &dyn rusqlite::ToSql {
                self
            }
            fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
                self
            }
        })*
        $(impl Column for $column {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
                row.get(index)
            }
            fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error> {
                row.try_get(index)
            }
        })*
    };
}

impl Param for Vec<u8> {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
}

/// Bytes written as they are held, not copied first (a picture kept is up to megabytes).
impl Param for &[u8] {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
}

/// Bytes as read back. A SQLite column holds whatever each row was given, so one that once
/// held text and now holds bytes (the journal's rows, packed since) gives a text as its UTF-8
/// bytes.
impl Column for Vec<u8> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        use rusqlite::types::{FromSqlError, ValueRef};
        match row.get_ref(index)? {
            ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Ok(bytes.to_vec()),
            other => Err(rusqlite::Error::FromSqlConversionFailure(
                index,
                other.data_type(),
                Box::new(FromSqlError::InvalidType),
            )),
        }
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error> {
        row.try_get(index)
    }
}

// Flags are integers (0 or 1) in both databases, so that a statement may compare them with a
// number: PostgreSQL's `BOOLEAN` would refuse `revoked = 0`.
shared_types!(
    String, &str, &String, Option<String>, Option<&str>;
    String, Option<String>, Option<f64>
);

/// An integer parameter as PostgreSQL takes it: as whichever of its integer types the
/// statement has there (a literal such as `0` beside a parameter makes it an `INTEGER`),
/// refused if out of that type's range.
#[derive(Debug)]
#[repr(transparent)]
struct Integer(i64);

/// [`Integer`], or `NULL`.
#[derive(Debug)]
#[repr(transparent)]
struct MaybeInteger(Option<i64>);

type PgResult = Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>;

fn integer_to_sql(value: i64, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> PgResult {
    use postgres::types::{ToSql, Type};
    match *ty {
        Type::INT2 => i16::try_from(value)?.to_sql(ty, out),
        Type::INT4 => i32::try_from(value)?.to_sql(ty, out),
        _ => value.to_sql(ty, out),
    }
}

fn accepts_integer(ty: &postgres::types::Type) -> bool {
    use postgres::types::Type;
    matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
}

impl postgres::types::ToSql for Integer {
    fn to_sql(&self, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> PgResult {
        integer_to_sql(self.0, ty, out)
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        accepts_integer(ty)
    }

    postgres::types::to_sql_checked!();
}

impl postgres::types::ToSql for MaybeInteger {
    fn to_sql(&self, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> PgResult {
        match self.0 {
            Some(value) => integer_to_sql(value, ty, out),
            None => Ok(postgres::types::IsNull::Yes),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        accepts_integer(ty)
    }

    postgres::types::to_sql_checked!();
}

/// A parameter's value, owned: a write sent ahead of its answer ([`Conn::write`]) outlives the
/// values it was given. Taken from the value SQLite would be given, which every [`Param`] has.
#[derive(Debug)]
pub(super) enum Owned {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Owned {
    pub(super) fn of(param: &dyn Param) -> Owned {
        use rusqlite::types::{ToSqlOutput, Value};
        let value = match param.sqlite().to_sql() {
            Ok(ToSqlOutput::Borrowed(value)) => Value::from(value),
            Ok(ToSqlOutput::Owned(value)) => value,
            // No parameter type of ours gives SQLite anything else.
            _ => Value::Null,
        };
        match value {
            Value::Integer(value) => Owned::Integer(value),
            Value::Text(text) => Owned::Text(text),
            Value::Real(value) => Owned::Real(value),
            Value::Blob(bytes) => Owned::Bytes(bytes),
            Value::Null => Owned::Null,
        }
    }
}

impl postgres::types::ToSql for Owned {
    fn to_sql(&self, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> PgResult {
        match self {
            Owned::Null => Ok(postgres::types::IsNull::Yes),
            Owned::Integer(value) => Integer(*value).to_sql_checked(ty, out),
            Owned::Real(value) => value.to_sql_checked(ty, out),
            Owned::Text(text) => text.to_sql_checked(ty, out),
            Owned::Bytes(bytes) => bytes.to_sql_checked(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        accepts_integer(ty) || f64::accepts(ty) || String::accepts(ty) || Vec::<u8>::accepts(ty)
    }

    postgres::types::to_sql_checked!();
}

impl Param for i64 {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        // SAFETY: `Integer` is a transparent wrapper of an `i64`.
        unsafe { &*(self as *const i64 as *const Integer) }
    }
}

impl Param for Option<i64> {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        // SAFETY: `MaybeInteger` is a transparent wrapper of an `Option<i64>`.
        unsafe { &*(self as *const Option<i64> as *const MaybeInteger) }
    }
}

impl Column for Option<i64> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error> {
        use postgres::types::Type;
        match *row.columns()[index].type_() {
            Type::INT2 => Ok(row.try_get::<_, Option<i16>>(index)?.map(i64::from)),
            Type::INT4 => Ok(row.try_get::<_, Option<i32>>(index)?.map(i64::from)),
            _ => row.try_get(index),
        }
    }
}

impl Column for i64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error> {
        use postgres::types::Type;
        match *row.columns()[index].type_() {
            Type::INT2 => Ok(i64::from(row.try_get::<_, i16>(index)?)),
            Type::INT4 => Ok(i64::from(row.try_get::<_, i32>(index)?)),
            _ => row.try_get(index),
        }
    }
}

/// The parameters of a statement, in order: `params![a, b]`.
macro_rules! params {
    ($($param:expr),* $(,)?) => {
        &[$(&$param as &dyn $crate::store::sql::Param),*] as &[&dyn $crate::store::sql::Param]
    };
}
pub(crate) use params;

/// One row of a query's answer.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// The value of the column at `index` (0-based, in the order the query selects them).
    pub fn get<T: Column>(&self, index: usize) -> StoreResult<T> {
        match self {
            Row::Sqlite(row) => Ok(T::from_sqlite(row, index)?),
            Row::Postgres(row) => Ok(T::from_postgres(row, index)?),
        }
    }
}
