//! Compiling a profile file into a [`Profile`]: each event's renames, shapes and replies
//! checked against the native protocol, every problem reported with where it is.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::definition::{self, ChooseFile, EmitFile, EventFile, ProfileFile, ReplyMode, ShapeFile};
use super::path::Path;
use super::rebuild::{value_key, Direction, Each, Move, Rebuild, Source};
use super::{
    is_native_emit, ClientEvent, Emit, Origin, Profile, Reply, Target, NATIVE_CLIENT_EVENTS,
};

/// Compiles a profile file; every problem is reported, each with where it is.
pub fn compile(name: &str, origin: Origin, text: &str) -> Result<Profile, Vec<String>> {
    let table: toml::Table = toml::from_str(text).map_err(|error| vec![error.to_string()])?;
    let unknown = definition::unknown_keys(&table);
    if !unknown.is_empty() {
        return Err(unknown
            .into_iter()
            .map(|key| format!("unknown key `{key}`"))
            .collect());
    }
    let file: ProfileFile = table
        .try_into()
        .map_err(|error: toml::de::Error| vec![error.to_string()])?;
    let mut problems = Vec::new();
    let mut emits = BTreeMap::new();
    // Emits first: replies and nested fields may be shaped like them.
    for (native, emit) in &file.emits {
        if !is_native_emit(native) {
            problems.push(format!("emits.\"{native}\": no native event has this name"));
        }
        match compile_emit(native, emit, &BTreeMap::new()) {
            Ok(emit) => {
                emits.insert(native.clone(), emit);
            }
            Err(why) => problems.push(format!("emits.\"{native}\": {why}")),
        }
    }
    let likes: BTreeMap<String, Arc<Rebuild>> = emits
        .iter()
        .map(|(native, emit)| (native.clone(), emit.shape.clone()))
        .collect();
    // Then the second events and what is sent outside a chat's room, which may be shaped like
    // the emits above.
    for (native, file) in &file.emits {
        let Some(emit) = emits.get_mut(native) else {
            continue;
        };
        for (key, extra, slot) in [
            ("also", &file.also, &mut emit.also),
            ("outside", &file.outside, &mut emit.outside),
        ] {
            let Some(extra) = extra else {
                continue;
            };
            let at = format!("emits.\"{native}\".{key}");
            if extra.also.is_some() || extra.outside.is_some() {
                problems.push(format!(
                    "{at}: an `{key}` has no `also` or `outside` of its own"
                ));
                continue;
            }
            match compile_emit(native, extra, &likes) {
                Ok(compiled) => *slot = Some(Box::new(compiled)),
                Err(why) => problems.push(format!("{at}: {why}")),
            }
        }
    }
    let mut events = BTreeMap::new();
    for (client, event) in &file.events {
        match compile_event(event, &likes) {
            Ok(event) => {
                events.insert(client.clone(), event);
            }
            Err(why) => problems.push(format!("events.\"{client}\": {why}")),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Profile {
        name: name.to_owned(),
        description: file.description,
        origin,
        mark_read_on_list: file.mark_read_on_list,
        events,
        emits,
    })
}

/// An emitted event's shape, which may be shaped like the emits in `likes`: none for the
/// emits themselves (nested `as` in them reads the native value as it is), the emits for their
/// `also` and `outside`, which keeps the shapes free of cycles.
fn compile_emit(
    native: &str,
    emit: &EmitFile,
    likes: &BTreeMap<String, Arc<Rebuild>>,
) -> Result<Emit, String> {
    let name = match (&emit.event, &emit.by) {
        (Some(_), Some(_)) => return Err("give at most one of `event` and `by`".into()),
        (None, Some(by)) => chosen(by, is_any)?,
        (Some(name), None) => Target::Named(name.clone()),
        (None, None) => Target::Named(native.to_owned()),
    };
    Ok(Emit {
        name,
        shape: Arc::new(compile_shape(&emit.shape, Direction::Out, likes)?),
        skip: emit.skip,
        when: conditions(&emit.when)?,
        also: None,
        outside: None,
    })
}

fn is_any(_: &str) -> bool {
    true
}

fn is_native_client_event(name: &str) -> bool {
    NATIVE_CLIENT_EVENTS.contains(&name)
}

fn chosen(by: &ChooseFile, allowed: fn(&str) -> bool) -> Result<Target, String> {
    if let Some(bad) = by.events.values().find(|name| !allowed(name)) {
        return Err(format!("`by` names `{bad}`, which is not a native event"));
    }
    Ok(Target::Chosen {
        field: Path::parse(&by.field)?,
        names: by.events.clone(),
    })
}

fn compile_event(
    event: &EventFile,
    likes: &BTreeMap<String, Arc<Rebuild>>,
) -> Result<ClientEvent, String> {
    let native = match (&event.native, &event.by) {
        (Some(native), None) if is_native_client_event(native) => Target::Named(native.clone()),
        (Some(native), None) => return Err(format!("`{native}` is not a native client event")),
        (None, Some(by)) => chosen(by, is_native_client_event)?,
        _ => return Err("give exactly one of `native` and `by`".into()),
    };
    let reply = match &event.reply {
        None => Reply::Ack(Rebuild::identity(Direction::Out)),
        Some(reply) => {
            let shape = compile_shape(&reply.shape, Direction::Out, likes)?;
            match (&reply.mode, &reply.event) {
                (ReplyMode::Ack, None) => Reply::Ack(shape),
                (ReplyMode::Bare, None) => Reply::Bare(shape),
                (ReplyMode::Event, Some(name)) => Reply::Event(name.clone(), shape),
                (ReplyMode::Event, None) => return Err("a reply by event needs `event`".into()),
                (_, Some(_)) => return Err("`reply.event` goes with `mode = \"event\"`".into()),
            }
        }
    };
    let error = match &event.error {
        Some(error) => Some((
            error.event.clone(),
            compile_shape(&error.shape, Direction::Out, likes)?,
        )),
        None => None,
    };
    Ok(ClientEvent {
        native,
        shape: compile_shape(&event.shape, Direction::In, likes)?,
        reply,
        error,
    })
}

/// A source chosen by the value at `by`: `paths` maps each value (as text) to a path.
fn chosen_source(by: &str, paths: &BTreeMap<String, String>) -> Result<Source, String> {
    Ok(Source::Chosen {
        by: Path::parse(by)?,
        sources: paths
            .iter()
            .map(|(value, path)| Ok((value.clone(), Source::parse(path)?)))
            .collect::<Result<_, String>>()?,
    })
}

fn compile_shape(
    shape: &ShapeFile,
    direction: Direction,
    likes: &BTreeMap<String, Arc<Rebuild>>,
) -> Result<Rebuild, String> {
    let like = |name: &str| -> Result<Arc<Rebuild>, String> {
        if !is_native_emit(name) {
            return Err(format!("`as = \"{name}\"`: no native event has this name"));
        }
        Ok(likes
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::new(Rebuild::identity(Direction::Out))))
    };
    let mut moves = Vec::new();
    for (client, field) in &shape.fields {
        let client_path = Path::parse(client)?;
        let values = shape.values.get(client).cloned().unwrap_or_default();
        let omit: Vec<String> = shape
            .omit
            .get(client)
            .map(|none| none.iter().map(value_key).collect())
            .unwrap_or_default();
        let (native, nested) = match field {
            definition::FieldFile::Path(native) => (Source::parse(native)?, None),
            definition::FieldFile::Nested { from, like: name } => {
                (Source::parse(from)?, Some(like(name)?))
            }
            definition::FieldFile::Chosen { .. } if direction == Direction::In => {
                return Err(format!(
                    "`{client}`: a field chosen `by` another is built only for the client"
                ));
            }
            definition::FieldFile::Chosen { by, paths } => (chosen_source(by, paths)?, None),
            definition::FieldFile::Shaped { from, shape } => (
                Source::parse(from)?,
                Some(Arc::new(compile_shape(shape, direction, likes)?)),
            ),
        };
        let values = values.into_iter().collect();
        moves.push(match (direction, native) {
            (Direction::Out, native) => Move {
                from: native,
                to: client_path,
                values,
                omit,
                like: nested,
            },
            (Direction::In, Source::Here(native)) => Move {
                from: Source::Here(client_path),
                to: native,
                values,
                omit,
                like: nested,
            },
            (Direction::In, _) => {
                return Err(format!(
                    "`{client}`: a client's field is written to a native path, not `$…`"
                ));
            }
        });
    }
    let mapped: [(&str, Vec<&String>); 2] = [
        ("values", shape.values.keys().collect()),
        ("omit", shape.omit.keys().collect()),
    ];
    for (table, fields) in mapped {
        if let Some(field) = fields.into_iter().find(|f| !shape.fields.contains_key(*f)) {
            return Err(format!(
                "`{table}.{field}` maps a field that `fields` does not name"
            ));
        }
    }
    let paths = |texts: &[String]| {
        texts
            .iter()
            .map(|t| Path::parse(t))
            .collect::<Result<Vec<_>, _>>()
    };
    let set = shape
        .set
        .iter()
        .map(|(path, value)| Ok((Path::parse(path)?, value.clone())))
        .collect::<Result<_, String>>()?;
    let each = if shape.each {
        Some(Each {
            filter: conditions(&shape.filter)?,
            pick: shape.pick.as_deref().map(Path::parse).transpose()?,
        })
    } else if shape.pick.is_some() || !shape.filter.is_empty() {
        return Err("`where` and `pick` go with `each = true`".into());
    } else {
        None
    };
    Ok(Rebuild {
        direction,
        from: shape.from.as_deref().map(Source::parse).transpose()?,
        bare: shape.payload.as_deref().map(Path::parse).transpose()?,
        moves,
        set,
        drop: paths(&shape.drop)?,
        only: shape.only,
        keep: shape.keep,
        each,
        like: shape.like.as_deref().map(like).transpose()?,
    })
}

/// Field values a payload must have (`where`, `when`), their paths parsed.
fn conditions(fields: &BTreeMap<String, Value>) -> Result<Vec<(Path, Value)>, String> {
    fields
        .iter()
        .map(|(path, value)| Ok((Path::parse(path)?, value.clone())))
        .collect()
}
