//! Checks shared by TagPacks and ActorPacks: typed access to fields with errors and warnings
//! that name the file, the line and the field.

use std::collections::HashSet;
use std::path::Path;

use super::taxonomy::Taxonomy;
use super::yaml::{Entry, Field, Value};
use super::Warning;
use crate::IntelError;

pub(crate) struct Header {
    pub title: String,
    pub creator: String,
    pub description: Option<String>,
    pub is_public: Option<bool>,
}

pub(crate) struct Check<'a> {
    pub file: &'a Path,
    pub taxonomy: &'a Taxonomy,
    pub warnings: &'a mut Vec<Warning>,
    /// (line, field) of concepts already warned about: a header value is checked for every
    /// tag that inherits it, but is one mistake.
    pub warned: HashSet<(u64, String)>,
}

impl Check<'_> {
    pub fn error(&self, line: u64, field: &str, message: impl Into<String>) -> IntelError {
        IntelError::Input {
            file: self.file.to_path_buf(),
            line: Some(line),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    pub fn warn(&mut self, line: u64, field: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: self.file.to_path_buf(),
            line: Some(line),
            field: Some(field.to_string()),
            message: message.into(),
        });
    }

    /// Rejects keys outside `allowed`. `elsewhere` are keys that belong to the other part of
    /// the pack (header vs entry), which gets a more helpful message than "unknown".
    pub fn only(&self, e: &Entry, allowed: &[&str], elsewhere: &[&str], what: &str) -> Result<(), IntelError> {
        for f in &e.fields {
            if allowed.contains(&f.name.as_ref()) {
                continue;
            }
            let why = if elsewhere.contains(&f.name.as_ref()) {
                format!("not allowed in {what}")
            } else {
                format!("unknown field in {what} (a typo?)")
            };
            return Err(self.error(f.line, &f.name, why));
        }
        Ok(())
    }

    /// A text value, or `None` when absent. Present but empty is an error: the schema's
    /// tools treat an empty value as a mistake, never as "not given".
    pub fn text<'e>(&self, f: Option<&'e Field>) -> Result<Option<(&'e str, u64)>, IntelError> {
        match f {
            None => Ok(None),
            Some(Field { value: Value::Text(s), line, name }) => {
                if s.trim().is_empty() {
                    Err(self.error(*line, name, "must not be empty"))
                } else {
                    Ok(Some((s.as_str(), *line)))
                }
            }
            Some(f) => Err(self.error(f.line, &f.name, "must not be empty")),
        }
    }

    /// A mandatory text value; `entry_line` is where the entry that lacks it starts.
    pub fn required<'e>(&self, f: Option<&'e Field>, name: &str, entry_line: u64, whose: &str) -> Result<(&'e str, u64), IntelError> {
        // An empty document has no first line: point at line 1.
        self.text(f)?.ok_or_else(|| self.error(entry_line.max(1), name, format!("missing: required in {whose}")))
    }

    /// The header fields TagPacks and ActorPacks share: title and creator (required),
    /// description, is_public.
    pub fn header(&self, doc: &Entry, whose: &str) -> Result<Header, IntelError> {
        Ok(Header {
            title: self.required(doc.get("title"), "title", doc.line, whose)?.0.to_string(),
            creator: self.required(doc.get("creator"), "creator", doc.line, whose)?.0.to_string(),
            description: self.text(doc.get("description"))?.map(|(s, _)| s.to_string()),
            is_public: self.boolean(doc.get("is_public"))?,
        })
    }

    pub fn boolean(&self, f: Option<&Field>) -> Result<Option<bool>, IntelError> {
        match f {
            None => Ok(None),
            Some(Field { value: Value::Bool(b), .. }) => Ok(Some(*b)),
            Some(f) => Err(self.error(f.line, &f.name, "must be true or false")),
        }
    }

    pub fn list(&self, f: Option<&Field>) -> Result<Vec<String>, IntelError> {
        match f {
            None => Ok(Vec::new()),
            Some(Field { value: Value::List(l), .. }) => Ok(l.iter().map(|s| s.trim().to_string()).collect()),
            Some(f) => Err(self.error(f.line, &f.name, "must be a list")),
        }
    }

    /// Warns about a concept the taxonomy lacks. Not an error: the published packs use
    /// concepts newer than the released taxonomy (`black_list` in usdt_blacklist.yaml,
    /// `defi_derivative` in the ActorPack), and rejecting them would refuse the packs as
    /// published. The value is kept as written.
    pub fn concept(&mut self, value: &str, line: u64, field: &str) {
        if !self.taxonomy.is_concept(value) && self.warned.insert((line, field.to_string())) {
            self.warn(line, field, format!("`{value}` is not a concept of the taxonomy; kept as written"));
        }
    }

    /// `lastmod` as ISO 8601: a YAML date (`2022-04-15`, also quoted) or date and time
    /// (`2023-08-16 12:18:52.619444`), normalized to `YYYY-MM-DD[THH:MM:SS[.f][zone]]`.
    pub fn lastmod(&self, f: Option<&Field>) -> Result<Option<String>, IntelError> {
        let Some((s, line)) = self.text(f)? else { return Ok(None) };
        parse_lastmod(s.trim())
            .map(Some)
            .ok_or_else(|| self.error(line, "lastmod", format!("{s:?} is not a date (YYYY-MM-DD) or date and time")))
    }

    /// `context`: a mapping, or a string holding JSON. A string that is not JSON is kept as
    /// a JSON string when `strict` is false (tag contexts are "text" in the schema).
    pub fn context(&mut self, f: Option<&Field>, strict: bool) -> Result<Option<serde_json::Value>, IntelError> {
        let Some(f) = f else { return Ok(None) };
        match &f.value {
            Value::Json(serde_json::Value::String(s)) => match serde_json::from_str::<serde_json::Value>(s) {
                Ok(v) => Ok(Some(v)),
                Err(e) if strict => Err(self.error(f.line, "context", format!("not JSON: {e}"))),
                Err(_) => {
                    self.warn(f.line, "context", "not JSON; kept as text");
                    Ok(Some(serde_json::Value::String(s.clone())))
                }
            },
            Value::Json(v) => Ok(Some(v.clone())),
            _ => Err(self.error(f.line, "context", "must not be empty")),
        }
    }
}

fn parse_lastmod(s: &str) -> Option<String> {
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim_start())),
        None => (s, None),
    };
    // A calendar date (2023-02-30 is not one).
    fundtrace_core::Date::parse(date).ok()?;
    let Some(time) = time else { return Some(date.to_string()) };
    // HH:MM[:SS[.fraction]] then an optional zone (Z, +HH:MM, -HH:MM, or " +HH:MM").
    let zone_at = time.find(['Z', 'z', '+']).or_else(|| time.get(1..).and_then(|t| t.find('-')).map(|i| i + 1));
    let (clock, zone) = zone_at.map_or((time, ""), |i| (&time[..i], &time[i..]));
    let clock = clock.trim_end();
    let mut hms = clock.split(':');
    let (h, mi) = (hms.next()?, hms.next()?);
    let sec = hms.next();
    let sec_ok = sec.is_none_or(|s| {
        let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
        digits(whole, 2) && !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())
    });
    let zone_ok = zone.is_empty() || zone.eq_ignore_ascii_case("z") || {
        let z = &zone[1..];
        digits(z, 2) || (z.len() == 5 && digits(&z[..2], 2) && &z[2..3] == ":" && digits(&z[3..], 2))
    };
    (hms.next().is_none() && digits(h, 2) && digits(mi, 2) && sec_ok && zone_ok).then(|| format!("{date}T{clock}{zone}"))
}

#[cfg(test)]
mod tests {
    use super::parse_lastmod;

    #[test]
    fn lastmod_forms() {
        assert_eq!(parse_lastmod("2022-04-15").as_deref(), Some("2022-04-15"));
        assert_eq!(parse_lastmod("2023-08-16 12:18:52.619444").as_deref(), Some("2023-08-16T12:18:52.619444"));
        assert_eq!(parse_lastmod("2023-08-16T12:18:52Z").as_deref(), Some("2023-08-16T12:18:52Z"));
        assert_eq!(parse_lastmod("2023-08-16T12:18:52+02:00").as_deref(), Some("2023-08-16T12:18:52+02:00"));
        for bad in ["2022-4-15", "15.04.2022", "2022-13-01", "2023-02-30", "2023-02-29T10:00:00Z", "2022-04-15 noon", "yesterday", "2022-04-15T1:00"] {
            assert_eq!(parse_lastmod(bad), None, "{bad}");
        }
    }
}
