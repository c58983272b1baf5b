//! Finding pack files: single YAML files, directories (recursively), and tar archives
//! (`.tar`, `.tar.xz`, `.txz`) such as a `git archive` of graphsense-tagpacks, read in place.

use std::borrow::Cow;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use crate::IntelError;

/// One pack file to import.
pub struct Source {
    /// The pack's identity across imports: its path from the repository's `packs/` or
    /// `actors/` folder (`packs/lazarus.yaml`), so a checkout, a copy and the archive all name
    /// the same pack and re-importing any of them replaces it; outside such a folder, the
    /// absolute path.
    pub uri: String,
    /// Where it is read from now (an archive member as `<archive>/<member>`).
    pub file: PathBuf,
    pub size: u64,
    content: Content,
}

enum Content {
    File,
    Member(Vec<u8>),
}

impl Source {
    pub fn bytes(&self) -> Result<Cow<'_, [u8]>, IntelError> {
        match &self.content {
            Content::File => std::fs::read(&self.file).map(Cow::Owned).map_err(|e| io(&self.file, e)),
            Content::Member(b) => Ok(Cow::Borrowed(b)),
        }
    }
}

fn io(file: &Path, e: impl std::fmt::Display) -> IntelError {
    IntelError::Input { file: file.to_path_buf(), line: None, field: None, message: e.to_string() }
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn is_archive(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".tar.xz") || name.ends_with(".txz") || name.ends_with(".tar")
}

/// The part of `p` from its last `packs` or `actors` component on.
fn repo_relative(p: &Path) -> Option<String> {
    let parts: Vec<&str> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let i = parts.iter().rposition(|c| *c == "packs" || *c == "actors")?;
    (i + 1 < parts.len()).then(|| parts[i..].join("/"))
}

/// All pack files under `paths`, sorted by uri.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Source>, IntelError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| io(p, e))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else if is_archive(p) {
            archive(p, &mut out)?;
        } else {
            out.push(file(p, meta.len())?);
        }
    }
    out.sort_by(|a, b| a.uri.cmp(&b.uri).then_with(|| a.file.cmp(&b.file)));
    Ok(out)
}

fn file(p: &Path, size: u64) -> Result<Source, IntelError> {
    let uri = match repo_relative(p) {
        Some(u) => u,
        None => std::fs::canonicalize(p).map_err(|e| io(p, e))?.display().to_string(),
    };
    Ok(Source { uri, file: p.to_path_buf(), size, content: Content::File })
}

fn walk(dir: &Path, out: &mut Vec<Source>) -> Result<(), IntelError> {
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        // .git and other hidden folders hold no packs.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(|e| io(&path, e))?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if is_yaml(&path) {
            out.push(file(&path, meta.len())?);
        }
    }
    Ok(())
}

fn archive(p: &Path, out: &mut Vec<Source>) -> Result<(), IntelError> {
    let f = std::fs::File::open(p).map_err(|e| io(p, e))?;
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let tar_bytes = if name.ends_with(".tar") {
        let mut b = Vec::new();
        BufReader::new(f).read_to_end(&mut b).map_err(|e| io(p, e))?;
        b
    } else {
        let mut b = Vec::new();
        lzma_rs::xz_decompress(&mut BufReader::new(f), &mut b).map_err(|e| io(p, format!("xz: {e}")))?;
        b
    };
    let mut a = tar::Archive::new(tar_bytes.as_slice());
    for entry in a.entries().map_err(|e| io(p, format!("tar: {e}")))? {
        let mut entry = entry.map_err(|e| io(p, format!("tar: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = entry.path().map_err(|e| io(p, format!("tar: {e}")))?.into_owned();
        if !is_yaml(&member) {
            continue;
        }
        let file = p.join(&member);
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(|e| io(&file, format!("tar: {e}")))?;
        let uri = repo_relative(&member).unwrap_or_else(|| {
            let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            abs.join(&member).display().to_string()
        });
        out.push(Source { uri, file, size: bytes.len() as u64, content: Content::Member(bytes) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_from_packs_folder() {
        assert_eq!(repo_relative(Path::new("/x/graphsense-tagpacks/packs/lazarus.yaml")).as_deref(), Some("packs/lazarus.yaml"));
        assert_eq!(repo_relative(Path::new("packs/defi_updated/a.yaml")).as_deref(), Some("packs/defi_updated/a.yaml"));
        assert_eq!(repo_relative(Path::new("./actors/graphsense.actorpack.yaml")).as_deref(), Some("actors/graphsense.actorpack.yaml"));
        assert_eq!(repo_relative(Path::new("/tmp/case42.yaml")), None);
        assert_eq!(repo_relative(Path::new("/tmp/packs")), None);
    }
}
