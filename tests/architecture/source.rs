//! The crate's source as the rules read it: each file's module, its code without comments,
//! and every path it writes into the crate (`crate::…`, `super::…`, `self::…`), with `use`
//! groups expanded (`use crate::{qr, store::{self, Store}};` is `qr`, `store` and
//! `store::Store`) and resolved to the module path it names from the crate's root.
//!
//! A file's module is its place under the source root (`store/writer.rs` is `store::writer`,
//! `store/mod.rs` is `store`), and modules written inline (`mod tests { … }`) are followed, so
//! that `super::` means what the compiler takes it to mean.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The source tree under a root (`src/`).
pub struct Source {
    pub files: Vec<File>,
}

/// One `.rs` file.
pub struct File {
    /// Its path as shown in a failure: the root's own name, then the path under it
    /// (`src/store/writer.rs`).
    pub shown: String,
    /// Its lines.
    pub lines: usize,
    /// Its name under the root.
    pub relative: PathBuf,
    /// The text with every comment (doc comments included) blanked out, line for line; string
    /// literals are kept, for the rules that look for SQL.
    pub code: String,
    /// The module it holds, from the library's root (`["store", "writer"]`); `None` for the
    /// binary's files (`main.rs` and the modules it declares), in which `crate` is the binary.
    pub module: Option<Vec<String>>,
    /// Every path into the crate it writes.
    pub paths: Vec<UsedPath>,
}

/// A path into the crate, one per name a `use` group brings in.
pub struct UsedPath {
    pub line: usize,
    /// As written, its group expanded: `super::notices::Notice`.
    pub written: String,
    /// What it names from the library's root: `["store", "notices", "Notice"]`.
    pub resolved: Vec<String>,
    /// Written with `super::` and reaching the library's root, from which it goes down into
    /// another top-level module (or names the root itself).
    pub climbs_out: bool,
}

impl Source {
    /// Reads every `.rs` file under `root`, which holds the library's `lib.rs`.
    pub fn read(root: &Path) -> Source {
        let mut names = Vec::new();
        rust_files(root, root, &mut names);
        names.sort();
        let library =
            top_modules(&std::fs::read_to_string(root.join("lib.rs")).unwrap_or_default());
        let shown_root = root
            .file_name()
            .map_or_else(String::new, |name| format!("{}/", name.to_string_lossy()));
        let files = names
            .into_iter()
            .map(|relative| {
                let text = std::fs::read_to_string(root.join(&relative)).expect("a source file");
                let module = module_of(&relative).filter(|module| {
                    module
                        .first()
                        .is_none_or(|top| library.contains(top.as_str()))
                });
                let (code, bare) = blank(&text);
                let paths = module
                    .as_ref()
                    .map(|module| used_paths(&tokens(&bare), module))
                    .unwrap_or_default();
                File {
                    shown: format!("{shown_root}{}", relative.display()),
                    lines: text.lines().count(),
                    relative,
                    code,
                    module,
                    paths,
                }
            })
            .collect();
        Source { files }
    }

    /// The library's files.
    pub fn library(&self) -> impl Iterator<Item = (&File, &[String])> {
        self.files
            .iter()
            .filter_map(|file| Some((file, file.module.as_deref()?)))
    }

    /// Every module of the library that is a file or a folder, by its path from the root.
    pub fn modules(&self) -> BTreeSet<Vec<String>> {
        self.library()
            .flat_map(|(_, module)| (1..=module.len()).map(|len| module[..len].to_vec()))
            .collect()
    }
}

fn rust_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(root, &path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path.strip_prefix(root).expect("under the root").to_owned());
        }
    }
}

/// The module a file under the root holds: `store/writer.rs` → `store::writer`,
/// `store/mod.rs` → `store`, `lib.rs` → the root.
fn module_of(relative: &Path) -> Option<Vec<String>> {
    let mut module: Vec<String> = relative
        .iter()
        .map(|part| part.to_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    let last = module.pop()?;
    match last.strip_suffix(".rs")? {
        "mod" => {}
        "lib" if module.is_empty() => {}
        name => module.push(name.to_owned()),
    }
    Some(module)
}

/// The modules `lib.rs` declares (`pub mod store;`, `mod fuzz;`).
fn top_modules(lib: &str) -> BTreeSet<String> {
    let tokens = tokens(&blank(lib).1);
    tokens
        .windows(3)
        .filter(|window| window[0].text == "mod" && window[2].text == ";")
        .map(|window| window[1].text.clone())
        .collect()
}

/// `text` with its comments blanked to spaces (line breaks kept), and a second copy with its
/// string and character literals blanked too, all but the strings that hold nothing but a path
/// into the crate (serde's `with = "crate::model::nested::object"`), whose path is kept.
pub fn blank(text: &str) -> (String, String) {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut bare = String::with_capacity(text.len());
    let blank_char = |c: char| if c == '\n' { '\n' } else { ' ' };
    let at = |i: usize| chars.get(i).copied();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let end = if c == '/' && at(i + 1) == Some('/') {
            (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len())
        } else if c == '/' && at(i + 1) == Some('*') {
            block_comment_end(&chars, i)
        } else {
            let literal = string_end(&chars, i).or_else(|| char_end(&chars, i));
            if let Some((open, close, end)) = literal {
                code.extend(&chars[i..end]);
                let content: String = chars[open..close].iter().collect();
                if is_crate_path(&content) {
                    bare.extend(chars[i..open].iter().map(|_| ' '));
                    bare.push_str(&content);
                    bare.extend(chars[close..end].iter().map(|_| ' '));
                } else {
                    bare.extend(chars[i..end].iter().copied().map(blank_char));
                }
                i = end;
                continue;
            }
            code.push(c);
            bare.push(c);
            i += 1;
            continue;
        };
        code.extend(chars[i..end].iter().copied().map(blank_char));
        bare.extend(chars[i..end].iter().copied().map(blank_char));
        i = end;
    }
    (code, bare)
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_crate_path(text: &str) -> bool {
    ["crate::", "super::", "self::"]
        .iter()
        .any(|start| text.starts_with(start))
        && text.chars().all(|c| is_ident_char(c) || c == ':')
}

/// Where the (nested) block comment opening at `i` ends.
fn block_comment_end(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// A string literal starting at `i` (`"…"`, `r#"…"#`; a `b` or `c` before it is read as an
/// identifier's letter, which is harmless): where its content starts and ends, and where it
/// ends.
fn string_end(chars: &[char], i: usize) -> Option<(usize, usize, usize)> {
    let ident_before = |at: usize| at > 0 && is_ident_char(chars[at - 1]);
    if chars[i] == '"' {
        let mut j = i + 1;
        while j < chars.len() && chars[j] != '"' {
            j += if chars[j] == '\\' { 2 } else { 1 };
        }
        let close = j.min(chars.len());
        return Some((i + 1, close, (close + 1).min(chars.len())));
    }
    let prefixed = ident_before(i) && matches!(chars[i - 1], 'b' | 'c') && !ident_before(i - 1);
    if chars[i] != 'r' || (ident_before(i) && !prefixed) {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
    let open = i + 1 + hashes;
    if chars.get(open) != Some(&'"') {
        return None;
    }
    let closing: Vec<char> = std::iter::once('"')
        .chain(std::iter::repeat_n('#', hashes))
        .collect();
    let close = (open + 1..chars.len())
        .find(|&j| chars[j..].starts_with(&closing))
        .unwrap_or(chars.len());
    Some((open + 1, close, (close + closing.len()).min(chars.len())))
}

/// A character literal starting at `i` (`'x'`, `'\n'`, `'\u{1F600}'`, not a lifetime).
fn char_end(chars: &[char], i: usize) -> Option<(usize, usize, usize)> {
    if chars[i] != '\'' {
        return None;
    }
    match chars.get(i + 1) {
        Some('\\') => {
            let close = (i + 3..chars.len()).find(|&j| chars[j] == '\'')?;
            Some((i + 1, close, close + 1))
        }
        Some(_) if chars.get(i + 2) == Some(&'\'') => Some((i + 1, i + 2, i + 3)),
        _ => None,
    }
}

/// A word (an identifier, a keyword, a number), `::`, or one other character.
pub struct Token {
    pub text: String,
    pub line: usize,
}

pub fn tokens(bare: &str) -> Vec<Token> {
    let mut found = Vec::new();
    let mut line = 1;
    let mut chars = bare.chars().peekable();
    while let Some(c) = chars.next() {
        let text = match c {
            '\n' => {
                line += 1;
                continue;
            }
            c if c.is_whitespace() => continue,
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                "::".to_owned()
            }
            c if is_ident_char(c) => {
                let mut word = c.to_string();
                while let Some(next) = chars.next_if(|next| is_ident_char(*next)) {
                    word.push(next);
                }
                word
            }
            c => c.to_string(),
        };
        found.push(Token { text, line });
    }
    found
}

/// Every path into the crate the tokens of a file of module `module` write.
pub fn used_paths(tokens: &[Token], module: &[String]) -> Vec<UsedPath> {
    let text = |i: usize| tokens.get(i).map_or("", |token| token.text.as_str());
    let is_anchor = |i: usize| matches!(text(i), "crate" | "super" | "self") && text(i + 1) == "::";
    let mut found = Vec::new();
    // The modules written inline around the current token, with the brace depth that closes each.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        match text(i) {
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, closes)| *closes == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if text(i + 2) == "{" => inline.push((text(i + 1).to_owned(), depth + 1)),
            _ if is_anchor(i) && (i == 0 || text(i - 1) != "$") => {
                let mut base: Vec<String> = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(name, _)| name.clone()))
                    .collect();
                let mut anchor = String::new();
                let mut climbed = false;
                while is_anchor(i) {
                    match text(i) {
                        "crate" => base.clear(),
                        "super" => {
                            base.pop();
                            climbed = true;
                        }
                        _ => {}
                    }
                    anchor.push_str(text(i));
                    anchor.push_str("::");
                    i += 2;
                }
                let mut tails = Vec::new();
                i = use_tree(tokens, i, Vec::new(), &mut tails);
                for (tail, line) in tails {
                    found.push(UsedPath {
                        line,
                        written: format!("{anchor}{}", tail.join("::")),
                        climbs_out: climbed && base.is_empty(),
                        resolved: base
                            .iter()
                            .cloned()
                            .chain(tail.into_iter().filter(|name| name != "*"))
                            .collect(),
                    });
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Reads the use tree (or plain path) at `i` under `prefix`, pushing each path it names with
/// the line of its last name; answers where it ends.
fn use_tree(
    tokens: &[Token],
    i: usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, usize)>,
) -> usize {
    let text = |i: usize| tokens.get(i).map_or("", |token| token.text.as_str());
    let past_alias = |i: usize| if text(i) == "as" { i + 2 } else { i };
    let line = |i: usize| tokens.get(i).map_or(0, |token| token.line);
    match text(i) {
        "{" => {
            let mut i = i + 1;
            while i < tokens.len() && text(i) != "}" {
                let next = match text(i) {
                    "," => i + 1,
                    _ => use_tree(tokens, i, prefix.clone(), out),
                };
                i = next.max(i + 1);
            }
            i + 1
        }
        "*" => {
            let mut glob = prefix;
            glob.push("*".to_owned());
            out.push((glob, line(i)));
            i + 1
        }
        "self" if text(i + 1) != "::" => {
            out.push((prefix, line(i)));
            past_alias(i + 1)
        }
        word if word
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_') =>
        {
            let mut path = prefix;
            path.push(word.to_owned());
            if text(i + 1) == "::" && text(i + 2) != "<" {
                return use_tree(tokens, i + 2, path, out);
            }
            out.push((path, line(i)));
            past_alias(i + 1)
        }
        _ => {
            if !prefix.is_empty() {
                out.push((prefix, line(i.saturating_sub(1))));
            }
            i
        }
    }
}
