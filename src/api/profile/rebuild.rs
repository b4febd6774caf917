//! A compiled shape: how one value is rebuilt for the other side of a profile. The one piece
//! of logic every translation goes through — client events, emitted events, replies and REST
//! bodies — so there is no per-profile code: a profile is data that configures these.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::path::Path;

/// Which way a shape rebuilds, which decides how absent fields and bare values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Native → client: a field the native side lacks is written as `null`, as the client's
    /// own server would have sent it; a bare payload is read out of the native object.
    Out,
    /// Client → native: absent client fields stay absent, so the native side's defaults and
    /// its own errors apply; a bare payload is put into the native object.
    In,
}

/// Where a field's value is read: in the value being rebuilt, or (`$…`) in the context it is
/// rebuilt in (`$me` always; for a reply `$request`, `$data`, `$error` too).
#[derive(Debug, Clone)]
pub enum Source {
    Here(Path),
    Context(Path),
    /// One of several sources, chosen by the value (as text) at a path of the value rebuilt;
    /// none when that value names none of them.
    Chosen {
        by: Path,
        sources: BTreeMap<String, Source>,
    },
}

impl Source {
    pub fn parse(text: &str) -> Result<Source, String> {
        match text.strip_prefix('$') {
            Some(rest) => Path::parse(rest).map(Source::Context),
            None => Path::parse(text).map(Source::Here),
        }
    }

    fn get<'v>(&self, here: &'v Value, context: &'v Value) -> Option<&'v Value> {
        match self {
            Source::Here(path) => path.get(here),
            Source::Context(path) => path.get(context),
            Source::Chosen { by, sources } => {
                sources.get(&value_key(by.get(here)?))?.get(here, context)
            }
        }
    }
}

/// One field moved from a source path to a target path, its value mapped on the way.
#[derive(Debug)]
pub struct Move {
    pub from: Source,
    pub to: Path,
    /// Source value (as text: `online`, `true`, `5`) → target value; others pass unchanged.
    pub values: BTreeMap<String, Value>,
    /// Source values (as text) that mean "none": the field is read as absent.
    pub omit: Vec<String>,
    /// A nested value rebuilt as another shape (a reply's message, as the profile's messages).
    pub like: Option<Arc<Rebuild>>,
}

/// Keeps and reshapes the elements of a list.
#[derive(Debug, Default)]
pub struct Each {
    pub filter: Vec<(Path, Value)>,
    pub pick: Option<Path>,
}

#[derive(Debug)]
pub struct Rebuild {
    pub direction: Direction,
    pub from: Option<Source>,
    /// The client's side is a bare value at this native path.
    pub bare: Option<Path>,
    pub moves: Vec<Move>,
    pub set: Vec<(Path, Value)>,
    pub drop: Vec<Path>,
    pub only: bool,
    pub keep: bool,
    pub each: Option<Each>,
    pub like: Option<Arc<Rebuild>>,
}

impl Rebuild {
    /// A shape that changes nothing.
    pub fn identity(direction: Direction) -> Rebuild {
        Rebuild {
            direction,
            from: None,
            bare: None,
            moves: Vec::new(),
            set: Vec::new(),
            drop: Vec::new(),
            only: false,
            keep: false,
            each: None,
            like: None,
        }
    }

    /// Rebuilds `source`; `context` is what `$…` paths read.
    pub fn apply(&self, source: &Value, context: &Value) -> Value {
        let root = match &self.from {
            Some(from) => from.get(source, context).cloned().unwrap_or(Value::Null),
            None => source.clone(),
        };
        if let Some(like) = &self.like {
            return like.apply(&root, context);
        }
        let Some(each) = &self.each else {
            return self.one(root, context);
        };
        let items = match root {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            single => vec![single],
        };
        let kept = items.into_iter().filter(|item| {
            each.filter
                .iter()
                .all(|(path, value)| path.get(item) == Some(value))
        });
        Value::Array(
            kept.map(|item| match &each.pick {
                Some(pick) => pick.get(&item).cloned().unwrap_or(Value::Null),
                None => self.one(item, context),
            })
            .collect(),
        )
    }

    fn one(&self, root: Value, context: &Value) -> Value {
        match (&self.bare, self.direction) {
            (Some(path), Direction::Out) => {
                return path.get(&root).cloned().unwrap_or(Value::Null);
            }
            (Some(path), Direction::In) => {
                let mut out = Value::Object(Map::new());
                path.set(&mut out, root);
                self.write_constants(&mut out);
                return out;
            }
            (None, _) => {}
        }
        let read: Vec<(&Move, Option<Value>)> = self
            .moves
            .iter()
            .map(|step| (step, step.read(&root, context)))
            .collect();
        let mut out = if self.only || !root.is_object() {
            Value::Object(Map::new())
        } else {
            root
        };
        if !self.keep {
            for step in &self.moves {
                if let Source::Here(path) = &step.from {
                    path.remove(&mut out);
                }
            }
        }
        for path in &self.drop {
            path.remove(&mut out);
        }
        for (step, value) in read {
            match value {
                Some(value) => step.to.set(&mut out, value),
                None if self.direction == Direction::Out => step.to.set(&mut out, Value::Null),
                None => {}
            }
        }
        self.write_constants(&mut out);
        out
    }

    fn write_constants(&self, out: &mut Value) {
        for (path, value) in &self.set {
            path.set(out, value.clone());
        }
    }
}

impl Move {
    fn read(&self, here: &Value, context: &Value) -> Option<Value> {
        let value = self
            .from
            .get(here, context)
            .filter(|value| !self.omit.contains(&value_key(value)))?;
        let value = match &self.like {
            Some(like) => like.apply(value, context),
            None => value.clone(),
        };
        Some(match self.values.get(&value_key(&value)) {
            Some(mapped) => mapped.clone(),
            None => value,
        })
    }
}

/// A value as the key of a value map or an event choice: strings as they are, anything else
/// as its JSON text (`true`, `5`).
pub fn value_key(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
