//! Paths into a JSON payload, as profiles write them: `chatId`, `media.url`, `sender.id`,
//! `messageIds[-1]` (the last element), `ids[]` (every element), `[0].presence`.
//!
//! A profile describes where a field sits on each side; these few forms are enough for the
//! chat conventions profiles translate, and each is read the same way in both directions.

use std::fmt;

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    /// An array element; negative counts from the end.
    Index(i64),
    /// Every element: on the way out a payload splits into one event per element, on the way
    /// in a single value becomes a one-element array.
    Each,
}

/// A parsed path; the empty path is the payload itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    steps: Vec<Step>,
    text: String,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    /// Reads `a.b[0].c`; names are made of anything but `.`, `[` and `]`.
    pub fn parse(text: &str) -> Result<Path, String> {
        let mut steps = Vec::new();
        for part in text
            .split('.')
            .filter(|part| !text.is_empty() || !part.is_empty())
        {
            let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
            if name.contains(']') {
                return Err(format!("`{text}`: `]` without its `[`"));
            }
            if name.is_empty() && rest.is_empty() {
                return Err(format!("`{text}` has an empty step"));
            }
            if !name.is_empty() {
                steps.push(Step::Key(name.to_owned()));
            }
            while !rest.is_empty() {
                let close = rest
                    .find(']')
                    .filter(|_| rest.starts_with('['))
                    .ok_or_else(|| format!("`{text}`: `[` without its `]`"))?;
                let inside = &rest[1..close];
                steps.push(if inside.is_empty() {
                    Step::Each
                } else {
                    Step::Index(
                        inside
                            .parse()
                            .map_err(|_| format!("`{text}`: `[{inside}]` is not an index"))?,
                    )
                });
                rest = &rest[close + 1..];
            }
        }
        if steps.iter().rev().skip(1).any(|step| *step == Step::Each) {
            return Err(format!("`{text}`: `[]` may only end a path"));
        }
        Ok(Path {
            steps,
            text: text.to_owned(),
        })
    }

    /// Whether the path ends with `[]`.
    pub fn is_each(&self) -> bool {
        self.steps.last() == Some(&Step::Each)
    }

    /// The path without a final `[]`.
    fn container(&self) -> &[Step] {
        match self.steps.split_last() {
            Some((Step::Each, rest)) => rest,
            _ => &self.steps,
        }
    }

    /// The value at this path (for a path ending in `[]`, the array itself).
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.container()
            .iter()
            .try_fold(value, |value, step| match step {
                Step::Key(key) => value.get(key),
                Step::Index(index) => {
                    let items = value.as_array()?;
                    let at = if *index < 0 {
                        items.len().checked_sub(index.unsigned_abs() as usize)?
                    } else {
                        *index as usize
                    };
                    items.get(at)
                }
                Step::Each => None,
            })
    }

    /// Removes the field this path names from its object (an index or `[]` removes the whole
    /// array it points into). Returns whether something was removed.
    pub fn remove(&self, value: &mut Value) -> bool {
        let steps = self.container();
        let keys: Vec<&str> = steps
            .iter()
            .map_while(|step| match step {
                Step::Key(key) => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let Some((last, parents)) = keys.split_last() else {
            return false;
        };
        let mut object = &mut *value;
        for key in parents {
            match object.get_mut(*key) {
                Some(inner) => object = inner,
                None => return false,
            }
        }
        let removed = object
            .as_object_mut()
            .is_some_and(|fields| fields.remove(*last).is_some());
        // A move may leave its parent empty (`media` after `media.url` and `media.name` moved
        // out); an empty object says nothing the client needs.
        if removed && !parents.is_empty() {
            let parent = Path {
                steps: parents.iter().map(|k| Step::Key((*k).to_owned())).collect(),
                text: String::new(),
            };
            if parent
                .get(value)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
            {
                parent.remove(value);
            }
        }
        removed
    }

    /// Writes `new` at this path, creating objects on the way; an index or `[]` wraps `new` in
    /// an array (a single value where a list is expected). Writing the empty path replaces the
    /// whole payload.
    pub fn set(&self, value: &mut Value, new: Value) {
        let keys: Vec<&str> = self
            .steps
            .iter()
            .map_while(|step| match step {
                Step::Key(key) => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let wrap = match self.steps.get(keys.len()) {
            None => false,
            Some(Step::Each) => !new.is_array(),
            Some(_) => true,
        };
        let new = if wrap { Value::Array(vec![new]) } else { new };
        let Some((last, parents)) = keys.split_last() else {
            *value = new;
            return;
        };
        let mut object = value;
        for key in parents {
            if !object.is_object() {
                *object = Value::Object(Map::new());
            }
            object = object
                .as_object_mut()
                .expect("made an object above")
                .entry(*key)
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if !object.is_object() {
            *object = Value::Object(Map::new());
        }
        object
            .as_object_mut()
            .expect("made an object above")
            .insert((*last).to_owned(), new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_keys_indexes_and_each() {
        let payload = json!({ "media": { "url": "u" }, "ids": ["a", "b"], "list": [{ "p": 1 }] });
        let get = |text: &str| Path::parse(text).unwrap().get(&payload).cloned();
        assert_eq!(get("media.url"), Some(json!("u")));
        assert_eq!(get("ids[0]"), Some(json!("a")));
        assert_eq!(get("ids[-1]"), Some(json!("b")));
        assert_eq!(get("ids[-3]"), None);
        assert_eq!(get("ids[]"), Some(json!(["a", "b"])));
        assert_eq!(get("list[0].p"), Some(json!(1)));
        assert_eq!(get(""), Some(payload.clone()));
        assert_eq!(get("media.missing"), None);
        assert_eq!(
            Path::parse("[0].presence")
                .unwrap()
                .get(&json!([{ "presence": "online" }])),
            Some(&json!("online"))
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in ["a..b", "a[", "a[x]", "a[].b", "a]"] {
            assert!(Path::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn writes_create_objects_and_wrap_single_values() {
        let mut payload = json!({});
        Path::parse("media.url")
            .unwrap()
            .set(&mut payload, json!("u"));
        Path::parse("ids[]").unwrap().set(&mut payload, json!("a"));
        Path::parse("all[]")
            .unwrap()
            .set(&mut payload, json!(["x", "y"]));
        Path::parse("messageIds[-1]")
            .unwrap()
            .set(&mut payload, json!("m"));
        assert_eq!(
            payload,
            json!({ "media": { "url": "u" }, "ids": ["a"], "all": ["x", "y"], "messageIds": ["m"] })
        );
        Path::parse("").unwrap().set(&mut payload, json!("bare"));
        assert_eq!(payload, json!("bare"));
    }

    #[test]
    fn removing_the_last_field_of_a_parent_removes_the_parent() {
        let mut payload = json!({ "media": { "url": "u", "name": "n" }, "a": 1 });
        assert!(Path::parse("media.url").unwrap().remove(&mut payload));
        assert_eq!(payload, json!({ "media": { "name": "n" }, "a": 1 }));
        assert!(Path::parse("media.name").unwrap().remove(&mut payload));
        assert_eq!(payload, json!({ "a": 1 }));
        assert!(!Path::parse("media.name").unwrap().remove(&mut payload));
        assert!(Path::parse("a").unwrap().remove(&mut payload));
    }
}
