//! Reading a TagPack or ActorPack document into fields that remember their line.
//!
//! The packs are read key by key rather than into fixed structs so that every value keeps
//! the line it was written on (errors and provenance name it), unknown keys can be reported
//! by name, and a scalar keeps its text exactly as written (`label: 01` stays "01", a YAML
//! date stays "2022-04-15") whatever it would look like to a typed YAML reader.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::IntelError;

/// What a known key holds. Keys of both TagPacks and ActorPacks share one table: no name
/// means different things in the two.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Bool,
    TextList,
    /// `context`: a mapping or a JSON string, kept as JSON.
    Json,
    /// `tags` / `actors`: the list of entries.
    Entries,
}

fn kind_of(key: &str) -> Option<(&'static str, Kind)> {
    use Kind::*;
    const KEYS: &[(&str, Kind)] = &[
        ("title", Text), ("creator", Text), ("description", Text), ("owner", Text),
        ("is_public", Bool), ("tags", Entries), ("actors", Entries),
        ("label", Text), ("source", Text), ("currency", Text), ("network", Text),
        ("confidence", Text), ("address", Text), ("tx_hash", Text), ("actor", Text),
        ("category", Text), ("abuse", Text), ("concepts", TextList), ("tag_type", Text),
        ("context", Json), ("is_cluster_definer", Bool), ("lastmod", Text),
        ("id", Text), ("uri", Text), ("categories", TextList), ("jurisdictions", TextList),
        ("aliases", TextList),
    ];
    KEYS.iter().find(|(k, _)| *k == key).copied()
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `key:` with nothing, or `~` / `null`.
    Null,
    Text(String),
    Bool(bool),
    List(Vec<String>),
    Json(serde_json::Value),
    Entries(Vec<Entry>),
    /// A key neither schema knows; its value was skipped.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub name: Cow<'static, str>,
    pub line: u64,
    pub value: Value,
}

/// One mapping: the document's header, or one tag or actor.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Entry {
    /// Line of the entry's first key (`- address: ...`).
    pub line: u64,
    pub fields: Vec<Field>,
}

impl Entry {
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

thread_local! {
    /// The key whose value is being read, so that a YAML error inside a value can name
    /// the field (serde-saphyr's error knows the line, not the key).
    static CURRENT_KEY: RefCell<Option<Cow<'static, str>>> = const { RefCell::new(None) };
}

/// Parses `text` (the content of `file`) into its top-level entry.
pub(crate) fn parse(file: &Path, text: &str) -> Result<Entry, IntelError> {
    CURRENT_KEY.with(|k| *k.borrow_mut() = None);
    // Budgets scale with the input: a node or event needs at least one byte of it, so this
    // admits any honest file (miners.yaml has 0.5M nodes) while the alias limits still stop
    // "billion laughs" expansion.
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_nodes = budget.max_nodes.max(text.len() + 16);
    budget.max_events = budget.max_events.max(2 * text.len() + 16);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(text.len());
    options.budget = Some(budget);
    let doc: Result<Document, _> = serde_saphyr::from_str_with_options(text, options);
    doc.map(|d| d.0).map_err(|e| {
        let line = e.location().map(|l| l.line()).filter(|&l| l > 0);
        let message = e.render_with_options(serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off });
        // The line goes in its own place; keep the column in the message.
        let message = match message.rsplit_once(" at line ") {
            Some((m, pos)) => match pos.split_once(", column ") {
                Some((_, col)) => format!("{m} (column {col})"),
                None => m.to_string(),
            },
            None => message,
        };
        let field = CURRENT_KEY.with(|k| k.borrow().as_ref().map(|k| k.to_string()));
        IntelError::Input { file: file.to_path_buf(), line, field, message: format!("YAML: {message}") }
    })
}

struct Document(Entry);

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EntrySeed.deserialize(d).map(Document)
    }
}

struct EntrySeed;

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        d.deserialize_map(EntrySeed)
    }
}

impl<'de> Visitor<'de> for EntrySeed {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of field names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut entry = Entry::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let line = key.referenced.line();
            if entry.fields.is_empty() {
                entry.line = line;
            }
            let (name, kind) = match kind_of(&key.value) {
                Some((n, k)) => (Cow::Borrowed(n), Some(k)),
                None => (Cow::Owned(key.value), None),
            };
            CURRENT_KEY.with(|k| *k.borrow_mut() = Some(name.clone()));
            let value = match kind {
                Some(Kind::Text) => map.next_value::<Option<String>>()?.map_or(Value::Null, Value::Text),
                Some(Kind::Bool) => map.next_value::<Option<bool>>()?.map_or(Value::Null, Value::Bool),
                Some(Kind::TextList) => map.next_value::<Option<Vec<String>>>()?.map_or(Value::Null, Value::List),
                Some(Kind::Json) => match map.next_value::<serde_json::Value>()? {
                    serde_json::Value::Null => Value::Null,
                    v => Value::Json(v),
                },
                Some(Kind::Entries) => Value::Entries(map.next_value_seed(EntriesSeed)?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                    Value::Unknown
                }
            };
            entry.fields.push(Field { name, line, value });
        }
        CURRENT_KEY.with(|k| *k.borrow_mut() = None);
        Ok(entry)
    }
}

struct EntriesSeed;

impl<'de> DeserializeSeed<'de> for EntriesSeed {
    type Value = Vec<Entry>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Entry>, D::Error> {
        d.deserialize_seq(EntriesSeed)
    }
}

impl<'de> Visitor<'de> for EntriesSeed {
    type Value = Vec<Entry>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Entry>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(e) = seq.next_element_seed(EntrySeed)? {
            out.push(e);
        }
        Ok(out)
    }

    /// `tags:` with nothing after it.
    fn visit_unit<E: de::Error>(self) -> Result<Vec<Entry>, E> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Entry, IntelError> {
        parse(Path::new("t.yaml"), s)
    }

    #[test]
    fn scalars_keep_their_text_and_lines() {
        let e = parse_str("title: x\nlastmod: 2022-04-15\ntags:\n- address: '01'\n  label: 01\n  is_cluster_definer: true\n  context: {a: [1, b]}\n- address: y\n  zzz: [1]\n").unwrap();
        assert_eq!(e.line, 1);
        assert_eq!(e.get("lastmod").unwrap().value, Value::Text("2022-04-15".into()));
        let Value::Entries(tags) = &e.get("tags").unwrap().value else { panic!() };
        assert_eq!(tags.len(), 2);
        assert_eq!((tags[0].line, tags[1].line), (4, 8));
        assert_eq!(tags[0].get("label").unwrap().value, Value::Text("01".into()));
        assert_eq!(tags[0].get("label").unwrap().line, 5);
        assert_eq!(tags[0].get("is_cluster_definer").unwrap().value, Value::Bool(true));
        assert_eq!(tags[0].get("context").unwrap().value, Value::Json(serde_json::json!({"a": [1, "b"]})));
        assert_eq!(tags[1].get("zzz").unwrap().value, Value::Unknown);
        assert_eq!(tags[1].get("zzz").unwrap().line, 9);
    }

    #[test]
    fn errors_name_line_and_field() {
        let Err(IntelError::Input { line, field, message, .. }) = parse_str("title: x\ntags:\n- address: a\n  label: [1, 2]\n")
        else {
            panic!()
        };
        assert_eq!(line, Some(4));
        assert_eq!(field.as_deref(), Some("label"));
        assert!(message.starts_with("YAML: "), "{message}");
        let Err(IntelError::Input { line, field, .. }) = parse_str("title: x\ntags:\n- address: a\n  label: b: c\n")
        else {
            panic!()
        };
        assert_eq!((line, field.as_deref()), (Some(4), Some("label")));
        // Duplicate keys are an error, as in graphsense-tagpack-tool's UniqueKeyLoader.
        let Err(IntelError::Input { line, .. }) = parse_str("title: x\ntitle: y\n") else { panic!() };
        assert_eq!(line, Some(2));
    }
}
