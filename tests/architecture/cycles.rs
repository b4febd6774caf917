//! Cycles among the children of one module: the top-level modules, or the files and folders
//! of one folder. A child is a node (a folder with everything under it is one node, and a
//! folder's `mod.rs` is the folder itself, so it is no node of its own folder); a path written
//! in one child that names another is an arrow from the first to the second.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::source::Source;

/// The arrows among the children of `parent`, each with the first place that draws it.
fn arrows(source: &Source, parent: &[String]) -> BTreeMap<(String, String), String> {
    let depth = parent.len();
    let children: BTreeSet<String> = source
        .modules()
        .into_iter()
        .filter(|module| module.len() == depth + 1 && module.starts_with(parent))
        .map(|module| module[depth].clone())
        .collect();
    let mut arrows = BTreeMap::new();
    for (file, module) in source.library() {
        if module.len() <= depth || !module.starts_with(parent) {
            continue;
        }
        let from = &module[depth];
        for used in &file.paths {
            let Some(to) = used
                .resolved
                .get(depth)
                .filter(|to| used.resolved.starts_with(parent) && children.contains(*to))
            else {
                continue;
            };
            if to != from {
                arrows.entry((from.clone(), to.clone())).or_insert_with(|| {
                    format!("{}:{} uses {}", file.shown, used.line, used.written)
                });
            }
        }
    }
    arrows
}

/// Every cycle among the children of `parent`, one per knot of children that reach each
/// other: the shortest way round from its first child, each arrow with the place that draws
/// it, then the knot's other arrows, all of which a fix must see.
pub fn cycles(source: &Source, parent: &[String], named: &str) -> Vec<String> {
    let arrows = arrows(source, parent);
    let mut next: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in arrows.keys() {
        next.entry(from).or_default().insert(to);
    }
    let reach = |start: &str| {
        let mut seen = BTreeSet::new();
        let mut queue: Vec<&str> = next.get(start).into_iter().flatten().copied().collect();
        while let Some(node) = queue.pop() {
            if seen.insert(node) {
                queue.extend(next.get(node).into_iter().flatten().copied());
            }
        }
        seen
    };
    let reached: BTreeMap<&str, BTreeSet<&str>> =
        next.keys().map(|node| (*node, reach(node))).collect();
    let mut placed = BTreeSet::new();
    let mut found = Vec::new();
    for (start, from_start) in &reached {
        if placed.contains(start) || !from_start.contains(start) {
            continue;
        }
        let knot: BTreeSet<&str> = from_start
            .iter()
            .copied()
            .filter(|node| reached.get(node).is_some_and(|back| back.contains(start)))
            .collect();
        placed.extend(knot.iter().copied());
        let round = shortest_round(start, &next, &knot);
        let mut text = format!("{named}: {}", round.join(" → "));
        for pair in round.windows(2) {
            let place = &arrows[&(pair[0].to_owned(), pair[1].to_owned())];
            text.push_str(&format!("\n    {place}"));
        }
        let on_round: BTreeSet<(&str, &str)> =
            round.windows(2).map(|pair| (pair[0], pair[1])).collect();
        let others: Vec<&String> = arrows
            .iter()
            .filter(|((from, to), _)| {
                knot.contains(from.as_str())
                    && knot.contains(to.as_str())
                    && !on_round.contains(&(from.as_str(), to.as_str()))
            })
            .map(|(_, place)| place)
            .collect();
        if !others.is_empty() {
            text.push_str("\n  and the knot's other arrows:");
            for place in others {
                text.push_str(&format!("\n    {place}"));
            }
        }
        found.push(text);
    }
    found
}

/// The shortest way from `start` back to it through the `knot`.
fn shortest_round<'a>(
    start: &'a str,
    next: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    knot: &BTreeSet<&'a str>,
) -> Vec<&'a str> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &to in next.get(node).into_iter().flatten() {
            if to == start {
                let mut round = vec![start];
                let mut at = node;
                while at != start {
                    round.push(at);
                    at = came_from[at];
                }
                round.push(start);
                round.reverse();
                return round;
            }
            if knot.contains(to) && !came_from.contains_key(to) {
                came_from.insert(to, node);
                queue.push_back(to);
            }
        }
    }
    vec![start]
}
