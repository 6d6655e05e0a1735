//! Maps for `map`, `map_str`, `map_beg`, `map_dom`, `map_end` and `map_reg`: key/value
//! lists loaded from files (HAProxy's map file format) or kept in memory (`virt@<name>`),
//! changed at runtime by the Runtime API, read lock-free by engine threads.
//!
//! ```text
//! control thread                               engine thread (HTTP helper)
//!   maps.update(|set| set.with_added(..))        maps.load().lookup("virt@paths.map",
//!     validates the whole change,                          MatchKind::Beg, path)
//!     builds the next MapSet, one CAS              -> Some("mybackend1")
//! ```
//!
//! - A [`MapSet`] is an immutable snapshot of every map behind one [`ArcSwap`]; a change
//!   builds the next set (sharing every untouched map) and publishes it whole, so a lookup
//!   sees the map before or after a change, never half of it.
//! - A map keeps its entries in insertion order with unique ids (`show map` prints
//!   `0x<id> <key> <value>`), and indexes for each match kind: exact keys in a hash map;
//!   prefixes (`beg`), suffixes (`end`) and delimited words (`dom`) in hash maps probed
//!   with each candidate length of the sample; regexes (`reg`) as a compiled list. As in
//!   HAProxy: `beg` answers the longest matching prefix (its prefix tree), `str` the first
//!   entry with the key, and `end`, `dom`, `reg` (list matching) the first inserted match.
//! - Versions as HAProxy's `prepare map` / `add map @<ver>` / `commit map @<ver>`: a
//!   prepared version is filled off-line and replaces the current entries at once.
//!
//! Not here: case-insensitive matching (`-i`), `ip`/`int` map kinds, map files written back
//! to disk.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;

/// Most maps one set holds. Bounds the control-path copy of the map list per change.
pub const MAPS_MAX: usize = 4096;

/// Most entries one map version holds. Ten times the 100k entries of the design target;
/// bounds the memory and the rebuild work of one change.
pub const ENTRIES_PER_MAP_MAX: usize = 1_000_000;

/// Largest map file read, in bytes. A million entries of ~60 bytes.
pub const MAP_FILE_BYTES_MAX: usize = 64 << 20;

/// Longest key or value, in bytes: HAProxy's `tune.bufsize`, the most one CLI request or
/// map file line can carry.
pub const ENTRY_BYTES_MAX: usize = 16_384;

/// Most prepared (uncommitted) versions kept per map. HAProxy keeps any number; scripts
/// use one at a time, and each holds a full copy of the entries.
pub const PENDING_VERSIONS_MAX: usize = 8;

/// Most word boundaries of a sample probed by `map_dom` (each pair of boundaries is one
/// hash probe, so the work is at most this squared); longer samples fall back to a scan
/// of the entries.
pub const DOM_BOUNDARIES_MAX: usize = 64;

/// Compiled size limit of one `map_reg` regex, in bytes: a hostile pattern cannot make the
/// control thread build a huge automaton.
pub const REGEX_SIZE_MAX: usize = 1 << 20;

/// How many times [`Maps::update`] rebuilds a change when another writer published in
/// between (the control thread is the only writer in practice).
pub const UPDATE_ATTEMPTS_MAX: usize = 64;

/// How a sample is matched against the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// `map` / `map_str`: the whole sample equals the key.
    Str,
    /// `map_beg`: the sample starts with the key.
    Beg,
    /// `map_dom`: the key is found in the sample between delimiters `/ ? . :` (or the
    /// sample's ends); delimiters at the key's ends are ignored.
    Dom,
    /// `map_end`: the sample ends with the key.
    End,
    /// `map_reg`: the key is a regex found in the sample.
    Reg,
}

impl MatchKind {
    /// The kind of a converter name (`map`, `map_str`, `map_beg`, ...).
    pub fn from_converter(name: &str) -> Option<MatchKind> {
        Some(match name {
            "map" | "map_str" => MatchKind::Str,
            "map_beg" => MatchKind::Beg,
            "map_dom" => MatchKind::Dom,
            "map_end" => MatchKind::End,
            "map_reg" | "map_regm" => MatchKind::Reg,
            _ => return None,
        })
    }

    /// HAProxy's name of the match method (`get map` prints it as `type=`).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Str => "str",
            MatchKind::Beg => "beg",
            MatchKind::Dom => "dom",
            MatchKind::End => "end",
            MatchKind::Reg => "reg",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Everything that can go wrong with maps. The Runtime API maps these to HAProxy's texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// No map by this name.
    #[error("unknown map '{name}'")]
    NoSuchMap { name: String },
    /// The set holds `MAPS_MAX` maps.
    #[error("too many maps (max {max})")]
    TooManyMaps { max: usize },
    /// The map version holds `ENTRIES_PER_MAP_MAX` entries.
    #[error("map '{name}' full (max {max} entries)")]
    TooManyEntries { name: String, max: usize },
    /// A key or value longer than `ENTRY_BYTES_MAX`.
    #[error("entry of {len} bytes too long (max {max})")]
    EntryTooLong { len: usize, max: usize },
    /// An empty key.
    #[error("empty key")]
    EmptyKey,
    /// A key that does not compile as a regex, for a map used with `map_reg`.
    #[error("key '{key}' is not a valid regex: {why}")]
    BadRegex { key: String, why: String },
    /// No entry with this key (or `#<id>`).
    #[error("no entry '{key}' in map '{name}'")]
    NoSuchEntry { name: String, key: String },
    /// No prepared version with this number.
    #[error("no version {version} of map '{name}'")]
    NoSuchVersion { name: String, version: u32 },
    /// `add map @<ver>` beyond the last prepared version.
    #[error("version {version} of map '{name}' is in the future (last prepared {next})")]
    FutureVersion { name: String, version: u32, next: u32 },
    /// `commit map @<ver>` outside the prepared range.
    #[error("version {version} of map '{name}' out of range ({cur}, {next}]")]
    VersionOutOfRange {
        name: String,
        version: u32,
        cur: u32,
        next: u32,
    },
    /// A `#0x<id>` reference that is not hexadecimal.
    #[error("malformed entry reference '{key}'")]
    MalformedRef { key: String },
    /// `PENDING_VERSIONS_MAX` versions are already prepared.
    #[error("map '{name}' has {max} prepared versions already (max {max})")]
    TooManyVersions { name: String, max: usize },
    /// A map file could not be read.
    #[error("cannot read map file '{path}': {why}")]
    File { path: String, why: String },
    /// A map file larger than `MAP_FILE_BYTES_MAX`.
    #[error("map file '{path}' of {len} bytes too large (max {max})")]
    FileTooLarge { path: String, len: u64, max: usize },
    /// A map file line that is not `key value`.
    #[error("map file '{path}' line {line}: {why}")]
    FileLine { path: String, line: usize, why: String },
    /// [`Maps::update`] kept losing the race against other writers.
    #[error("map update lost the race against other writers {attempts} times")]
    Contended { attempts: usize },
}

/// One map entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unique id in the set (`show map` prints it as `0x<id>`, `#<id>` names it).
    pub id: u64,
    /// The key (a string, prefix, suffix, domain or regex, depending on the match kind).
    pub key: Arc<str>,
    /// The value returned on a match.
    pub value: Arc<str>,
}

/// Prefix, suffix or word index: keys by their bytes (first inserted index wins), probed
/// with every distinct key length. Keys share the entries' allocations where they can, so
/// cloning the index to extend it costs reference counts, not copies.
#[derive(Debug, Default, Clone)]
struct AffixIndex {
    keys: HashMap<Arc<[u8]>, u32>,
    /// Distinct key lengths, ascending.
    lens: Vec<usize>,
}

impl AffixIndex {
    fn build(entries: &[Entry], dom: bool) -> AffixIndex {
        let mut idx = AffixIndex {
            keys: HashMap::with_capacity(entries.len()),
            lens: Vec::new(),
        };
        idx.extend(entries, 0, dom);
        idx
    }

    /// Adds `entries[start..]` (their indexes are their positions in `entries`).
    fn extend(&mut self, entries: &[Entry], start: usize, dom: bool) {
        for (i, e) in entries.iter().enumerate().skip(start) {
            let key: Arc<[u8]> = if dom {
                let t = dom_trim(e.key.as_bytes());
                if t.len() == e.key.len() {
                    Arc::from(e.key.clone())
                } else {
                    Arc::from(t)
                }
            } else {
                Arc::from(e.key.clone())
            };
            let len = key.len();
            self.keys.entry(key).or_insert(i as u32);
            if let Err(at) = self.lens.binary_search(&len) {
                self.lens.insert(at, len);
            }
        }
        debug_assert!(self.lens.windows(2).all(|w| w[0] < w[1]));
    }

    fn best(&self, candidates: impl Iterator<Item = Option<u32>>) -> Option<u32> {
        candidates.flatten().min()
    }

    /// Longest matching prefix, as HAProxy's prefix tree (`pat_idx_tree_pfx`) answers.
    fn beg(&self, s: &[u8]) -> Option<u32> {
        self.lens
            .iter()
            .rev()
            .filter(|&&l| l <= s.len())
            .find_map(|&l| s.get(..l).and_then(|p| self.keys.get(p).copied()))
    }

    fn end(&self, s: &[u8]) -> Option<u32> {
        self.best(
            self.lens
                .iter()
                .take_while(|&&l| l <= s.len())
                .map(|&l| s.get(s.len() - l..).and_then(|p| self.keys.get(p).copied())),
        )
    }
}

fn is_dom_delim(b: u8) -> bool {
    matches!(b, b'/' | b'?' | b'.' | b':')
}

/// A `map_dom` key without its leading and trailing delimiters (HAProxy's `match_word`).
fn dom_trim(k: &[u8]) -> &[u8] {
    let start = k.iter().position(|&b| !is_dom_delim(b)).unwrap_or(k.len());
    let end = k.iter().rposition(|&b| !is_dom_delim(b)).map_or(start, |e| e + 1);
    k.get(start..end.max(start)).unwrap_or_default()
}

/// Whether `key` matches `s` as `map_dom` does, by scanning (the fallback).
fn dom_scan(s: &[u8], key: &[u8]) -> bool {
    let k = dom_trim(key);
    if k.is_empty() || k.len() > s.len() {
        return false;
    }
    (0..=s.len() - k.len()).any(|i| {
        s.get(i..i + k.len()) == Some(k)
            && (i == 0 || s.get(i - 1).is_some_and(|&b| is_dom_delim(b)))
            && s.get(i + k.len()).is_none_or(|&b| is_dom_delim(b))
    })
}

/// The indexes of one version's keys. Shared (`Arc`) between versions whose keys are the
/// same (`set map` changes values only).
#[derive(Debug, Default)]
struct Indexes {
    exact: HashMap<Arc<str>, u32>,
    beg: OnceLock<AffixIndex>,
    end: OnceLock<AffixIndex>,
    dom: OnceLock<AffixIndex>,
    reg: OnceLock<Vec<(regex::Regex, u32)>>,
}

/// One version of a map's entries with its indexes. Immutable once built; the indexes a
/// lookup needs are built on first use if the map was not registered for that kind.
#[derive(Debug, Default)]
pub struct Version {
    entries: Vec<Entry>,
    idx: Arc<Indexes>,
}

impl Version {
    fn build(entries: Vec<Entry>, kinds: u8) -> Result<Version, MapError> {
        let mut exact = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            exact.entry(e.key.clone()).or_insert(i as u32);
        }
        let v = Version {
            entries,
            idx: Arc::new(Indexes {
                exact,
                ..Indexes::default()
            }),
        };
        if kinds & MatchKind::Reg.bit() != 0 {
            let compiled = compile_all(&v.entries, 0)?;
            let _ = v.idx.reg.set(compiled);
        }
        for k in [MatchKind::Beg, MatchKind::End, MatchKind::Dom] {
            if kinds & k.bit() != 0 {
                v.lookup_index(k, "");
            }
        }
        debug_assert!(v.idx.exact.len() <= v.entries.len());
        Ok(v)
    }

    /// This version with `fresh` appended: the indexes already built are cloned and
    /// extended rather than rebuilt (`add map`).
    fn appended(&self, fresh: Vec<Entry>, kinds: u8) -> Result<Version, MapError> {
        let start = self.entries.len();
        let mut entries = Vec::with_capacity(start + fresh.len());
        entries.extend_from_slice(&self.entries);
        entries.extend(fresh);
        let mut exact = self.idx.exact.clone();
        for (i, e) in entries.iter().enumerate().skip(start) {
            exact.entry(e.key.clone()).or_insert(i as u32);
        }
        let idx = Indexes {
            exact,
            ..Indexes::default()
        };
        for (old, new, dom) in [
            (&self.idx.beg, &idx.beg, false),
            (&self.idx.end, &idx.end, false),
            (&self.idx.dom, &idx.dom, true),
        ] {
            if let Some(built) = old.get() {
                let mut next = built.clone();
                next.extend(&entries, start, dom);
                let _ = new.set(next);
            }
        }
        if let Some(built) = self.idx.reg.get() {
            let mut next = built.clone();
            next.extend(compile_all(&entries, start)?);
            let _ = idx.reg.set(next);
        }
        let v = Version {
            entries,
            idx: Arc::new(idx),
        };
        for k in [MatchKind::Reg, MatchKind::Beg, MatchKind::End, MatchKind::Dom] {
            if kinds & k.bit() != 0 {
                v.lookup_index(k, "");
            }
        }
        Ok(v)
    }

    /// This version with other values for the same keys in the same order (`set map`):
    /// the indexes are shared.
    fn with_values(&self, entries: Vec<Entry>) -> Version {
        debug_assert_eq!(entries.len(), self.entries.len());
        debug_assert!(entries.iter().zip(&self.entries).all(|(a, b)| a.key == b.key));
        Version {
            entries,
            idx: self.idx.clone(),
        }
    }

    /// Entries in insertion order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry of the first key matching `sample` with `kind`.
    pub fn lookup(&self, kind: MatchKind, sample: &str) -> Option<&Entry> {
        let i = self.lookup_index(kind, sample)?;
        self.entries.get(i as usize)
    }

    fn lookup_index(&self, kind: MatchKind, sample: &str) -> Option<u32> {
        let s = sample.as_bytes();
        match kind {
            MatchKind::Str => self.idx.exact.get(sample).copied(),
            MatchKind::Beg => self
                .idx
                .beg
                .get_or_init(|| AffixIndex::build(&self.entries, false))
                .beg(s),
            MatchKind::End => self
                .idx
                .end
                .get_or_init(|| AffixIndex::build(&self.entries, false))
                .end(s),
            MatchKind::Dom => {
                let idx = self
                    .idx
                    .dom
                    .get_or_init(|| AffixIndex::build(&self.entries, true));
                // Word boundaries on the stack: no allocation per lookup. Samples with more
                // delimiters than the array holds fall back to scanning the entries.
                let mut bounds = [0usize; DOM_BOUNDARIES_MAX + 1];
                let mut n = 1;
                let mut truncated = false;
                for (i, &b) in s.iter().enumerate().filter(|(_, &b)| is_dom_delim(b)) {
                    debug_assert!(is_dom_delim(b));
                    match bounds.get_mut(n) {
                        Some(slot) if n < DOM_BOUNDARIES_MAX => *slot = i,
                        _ => {
                            truncated = true;
                            break;
                        }
                    }
                    n += 1;
                }
                if truncated {
                    return self
                        .entries
                        .iter()
                        .position(|e| dom_scan(s, e.key.as_bytes()))
                        .map(|i| i as u32);
                }
                if let Some(slot) = bounds.get_mut(n) {
                    *slot = s.len();
                }
                let bounds = bounds.get(..=n).unwrap_or_default();
                let mut best: Option<u32> = None;
                for (a, &i) in bounds.iter().enumerate() {
                    // A word starts at the sample's start or just after a delimiter.
                    let start = if a == 0 { 0 } else { i + 1 };
                    for &j in bounds.iter().skip(a + 1) {
                        if j <= start {
                            continue;
                        }
                        if let Some(&hit) = s.get(start..j).and_then(|w| idx.keys.get(w)) {
                            best = Some(best.map_or(hit, |b| b.min(hit)));
                        }
                    }
                }
                best
            }
            MatchKind::Reg => {
                let list = self
                    .idx
                    .reg
                    .get_or_init(|| compile_all(&self.entries, 0).unwrap_or_default());
                list.iter().find(|(re, _)| re.is_match(sample)).map(|&(_, i)| i)
            }
        }
    }
}

fn compile(key: &str) -> Result<regex::Regex, MapError> {
    regex::RegexBuilder::new(key)
        .size_limit(REGEX_SIZE_MAX)
        .build()
        .map_err(|e| MapError::BadRegex {
            key: key.to_owned(),
            why: e.to_string().lines().last().unwrap_or_default().to_owned(),
        })
}

fn compile_all(entries: &[Entry], start: usize) -> Result<Vec<(regex::Regex, u32)>, MapError> {
    entries
        .iter()
        .enumerate()
        .skip(start)
        .map(|(i, e)| compile(&e.key).map(|re| (re, i as u32)))
        .collect()
}

/// One map: its current version, its prepared versions and the match kinds it is used with.
#[derive(Debug, Clone)]
pub struct Map {
    /// The map's name as written in the config (`virt@paths.map`, `/etc/haproxy/x.map`).
    pub name: Arc<str>,
    /// Unique id in the set (`show map` lists it; HAProxy's `unique_id`).
    pub uid: u32,
    /// Where it was declared (`show map` prints it), e.g. `used by map at file 'x' line 3`.
    pub origin: Arc<str>,
    kinds: u8,
    cur: Arc<Version>,
    cur_gen: u32,
    next_gen: u32,
    pending: BTreeMap<u32, Arc<Vec<Entry>>>,
}

impl Map {
    /// The current version.
    pub fn current(&self) -> &Version {
        &self.cur
    }

    /// The current version number (`curr_ver`).
    pub fn current_version(&self) -> u32 {
        self.cur_gen
    }

    /// The last version number handed out by `prepare map` (`next_ver`).
    pub fn next_version(&self) -> u32 {
        self.next_gen
    }

    /// The entries of a version: the current one, or a prepared one (none for a version
    /// nobody filled).
    pub fn entries_at(&self, version: Option<u32>) -> &[Entry] {
        match version {
            None => self.cur.entries(),
            Some(v) if v == self.cur_gen => self.cur.entries(),
            Some(v) => self.pending.get(&v).map_or(&[], |e| e.as_slice()),
        }
    }

    /// The match kinds it is registered for (`map_beg` in a config registers `Beg`...).
    pub fn kinds(&self) -> impl Iterator<Item = MatchKind> + '_ {
        [
            MatchKind::Str,
            MatchKind::Beg,
            MatchKind::Dom,
            MatchKind::End,
            MatchKind::Reg,
        ]
        .into_iter()
        .filter(|k| self.kinds & k.bit() != 0)
    }

    /// The main match kind (the first registered, else `Str`): `get map` uses it.
    pub fn main_kind(&self) -> MatchKind {
        self.kinds().next().unwrap_or(MatchKind::Str)
    }

    fn with_current(&self, entries: Vec<Entry>) -> Result<Map, MapError> {
        if entries.len() > ENTRIES_PER_MAP_MAX {
            return Err(MapError::TooManyEntries {
                name: self.name.to_string(),
                max: ENTRIES_PER_MAP_MAX,
            });
        }
        let mut m = self.clone();
        m.cur = Arc::new(Version::build(entries, self.kinds)?);
        Ok(m)
    }

    fn check_entry(&self, key: &str, value: &str) -> Result<(), MapError> {
        if key.is_empty() {
            return Err(MapError::EmptyKey);
        }
        for len in [key.len(), value.len()] {
            if len > ENTRY_BYTES_MAX {
                return Err(MapError::EntryTooLong {
                    len,
                    max: ENTRY_BYTES_MAX,
                });
            }
        }
        if self.kinds & MatchKind::Reg.bit() != 0 {
            compile(key)?;
        }
        Ok(())
    }

    /// Indexes of the entries a `<key>` or `#0x<id>` reference names (HAProxy only reads
    /// `#0x` as a reference; any other key is literal).
    fn find(&self, key: &str) -> Result<Vec<usize>, MapError> {
        if let Some(hex) = key.strip_prefix("#0x") {
            let id =
                u64::from_str_radix(hex, 16).map_err(|_| MapError::MalformedRef { key: key.to_owned() })?;
            return Ok(self
                .cur
                .entries
                .iter()
                .position(|e| e.id == id)
                .into_iter()
                .collect());
        }
        Ok(self
            .cur
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| &*e.key == key)
            .map(|(i, _)| i)
            .collect())
    }

    /// Whether `v` is after the last prepared version (wrapping, as HAProxy compares).
    fn in_future(&self, v: u32) -> bool {
        (v.wrapping_sub(self.next_gen) as i32) > 0
    }
}

/// One immutable version of every map. Cheap to clone; a change shares untouched maps.
#[derive(Debug, Clone, Default)]
pub struct MapSet {
    maps: Vec<Arc<Map>>,
    by_name: HashMap<Arc<str>, usize>,
    next_id: u64,
    next_uid: u32,
    generation: u64,
}

/// What a map file or payload line parses to.
pub type Pair = (String, String);

/// Parses HAProxy's map file format: per line, a key, blanks, and the value up to the end
/// of the line (trailing blanks and CR dropped); blank lines and lines starting with `#`
/// (after blanks) are skipped; a key alone gets an empty value.
pub fn parse_map_text(text: &str, path: &str) -> Result<Vec<Pair>, MapError> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.find([' ', '\t']) {
            Some(i) => (&line[..i], line[i..].trim_start_matches([' ', '\t'])),
            None => (line, ""),
        };
        if key.len() > ENTRY_BYTES_MAX || value.len() > ENTRY_BYTES_MAX {
            return Err(MapError::FileLine {
                path: path.to_owned(),
                line: n + 1,
                why: format!("entry longer than {ENTRY_BYTES_MAX} bytes"),
            });
        }
        if out.len() >= ENTRIES_PER_MAP_MAX {
            return Err(MapError::TooManyEntries {
                name: path.to_owned(),
                max: ENTRIES_PER_MAP_MAX,
            });
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// Reads and parses a map file (bounded by [`MAP_FILE_BYTES_MAX`]).
pub fn read_map_file(path: &Path) -> Result<Vec<Pair>, MapError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| MapError::File {
        path: name.clone(),
        why: e.to_string(),
    })?;
    if meta.len() > MAP_FILE_BYTES_MAX as u64 {
        return Err(MapError::FileTooLarge {
            path: name,
            len: meta.len(),
            max: MAP_FILE_BYTES_MAX,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| MapError::File {
        path: name.clone(),
        why: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse_map_text(&text, &name)
}

impl MapSet {
    /// An empty set.
    pub fn new() -> MapSet {
        MapSet {
            next_id: 1,
            ..MapSet::default()
        }
    }

    /// Version number raised by every publish.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Every map, in registration order.
    pub fn maps(&self) -> &[Arc<Map>] {
        &self.maps
    }

    /// The map with this name.
    pub fn map(&self, name: &str) -> Option<&Arc<Map>> {
        self.by_name.get(name).and_then(|&i| self.maps.get(i))
    }

    /// The map named by `<file>` or `#<uid>` as the Runtime API takes it.
    pub fn find(&self, ident: &str) -> Option<&Arc<Map>> {
        if let Some(uid) = ident.strip_prefix('#').and_then(|s| s.parse::<u32>().ok()) {
            return self.maps.iter().find(|m| m.uid == uid);
        }
        self.map(ident)
    }

    /// The engine's lookup: the value of the first entry of `map` matching `sample`.
    /// `None` if the map does not exist or nothing matches. Lock-free, no allocation
    /// (but `map_dom` probes up to [`DOM_BOUNDARIES_MAX`] word boundaries).
    #[inline]
    pub fn lookup(&self, map: &str, kind: MatchKind, sample: &str) -> Option<&str> {
        self.map(map)?.cur.lookup(kind, sample).map(|e| &*e.value)
    }

    fn must(&self, ident: &str) -> Result<&Arc<Map>, MapError> {
        self.find(ident).ok_or_else(|| MapError::NoSuchMap {
            name: ident.to_owned(),
        })
    }

    fn replace(&self, m: Map) -> MapSet {
        let mut next = self.clone();
        if let Some(&i) = self.by_name.get(&*m.name) {
            if let Some(slot) = next.maps.get_mut(i) {
                *slot = Arc::new(m);
            }
        }
        next
    }

    fn new_entries(&mut self, pairs: &[(&str, &str)]) -> Vec<Entry> {
        let out = pairs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Entry {
                id: self.next_id + i as u64,
                key: Arc::from(*k),
                value: Arc::from(*v),
            })
            .collect();
        self.next_id += pairs.len() as u64;
        out
    }

    /// This set with map `name` registered for `kind` (created empty if new; `origin`
    /// describes where it is used). Registering a known map adds the kind and builds its
    /// index; with `Reg`, every key must compile.
    pub fn with_registered(&self, name: &str, kind: MatchKind, origin: &str) -> Result<MapSet, MapError> {
        if let Some(m) = self.map(name) {
            if m.kinds & kind.bit() != 0 {
                return Ok(self.clone());
            }
            let mut m2 = (**m).clone();
            m2.kinds |= kind.bit();
            let entries = m.cur.entries.clone();
            return Ok(self.replace(m2.with_current(entries)?));
        }
        if self.maps.len() >= MAPS_MAX {
            return Err(MapError::TooManyMaps { max: MAPS_MAX });
        }
        let mut next = self.clone();
        let name: Arc<str> = Arc::from(name);
        let m = Map {
            name: name.clone(),
            uid: next.next_uid,
            origin: Arc::from(origin),
            kinds: kind.bit(),
            cur: Arc::new(Version::default()),
            cur_gen: 0,
            next_gen: 0,
            pending: BTreeMap::new(),
        };
        next.next_uid += 1;
        next.by_name.insert(name, next.maps.len());
        next.maps.push(Arc::new(m));
        debug_assert_eq!(next.by_name.len(), next.maps.len());
        Ok(next)
    }

    /// This set with `pairs` appended to map `ident` (to its prepared `version` if given).
    /// All pairs are checked first: nothing is added if one is refused.
    pub fn with_added(
        &self,
        ident: &str,
        version: Option<u32>,
        pairs: &[(&str, &str)],
    ) -> Result<MapSet, MapError> {
        let m = self.must(ident)?;
        for (k, v) in pairs {
            m.check_entry(k, v)?;
        }
        let mut next = self.clone();
        let fresh = next.new_entries(pairs);
        let m = match version {
            Some(v) if v != m.cur_gen => {
                if m.in_future(v) {
                    return Err(MapError::FutureVersion {
                        name: m.name.to_string(),
                        version: v,
                        next: m.next_gen,
                    });
                }
                if !m.pending.contains_key(&v) && m.pending.len() >= PENDING_VERSIONS_MAX {
                    return Err(MapError::TooManyVersions {
                        name: m.name.to_string(),
                        max: PENDING_VERSIONS_MAX,
                    });
                }
                let empty = Arc::new(Vec::new());
                let cur = m.pending.get(&v).unwrap_or(&empty);
                if cur.len() + fresh.len() > ENTRIES_PER_MAP_MAX {
                    return Err(MapError::TooManyEntries {
                        name: m.name.to_string(),
                        max: ENTRIES_PER_MAP_MAX,
                    });
                }
                let mut entries = (**cur).clone();
                entries.extend(fresh);
                let mut m2 = (**m).clone();
                m2.pending.insert(v, Arc::new(entries));
                m2
            }
            _ => {
                if m.cur.entries.len() + fresh.len() > ENTRIES_PER_MAP_MAX {
                    return Err(MapError::TooManyEntries {
                        name: m.name.to_string(),
                        max: ENTRIES_PER_MAP_MAX,
                    });
                }
                let mut m2 = (**m).clone();
                m2.cur = Arc::new(m.cur.appended(fresh, m.kinds)?);
                m2
            }
        };
        Ok(next.replace(m))
    }

    /// This set with the value of every entry named by `key` (or `#<id>`) set to `value`.
    pub fn with_set(&self, ident: &str, key: &str, value: &str) -> Result<MapSet, MapError> {
        let m = self.must(ident)?;
        if value.len() > ENTRY_BYTES_MAX {
            return Err(MapError::EntryTooLong {
                len: value.len(),
                max: ENTRY_BYTES_MAX,
            });
        }
        let hits = m.find(key)?;
        if hits.is_empty() {
            return Err(MapError::NoSuchEntry {
                name: m.name.to_string(),
                key: key.to_owned(),
            });
        }
        let value: Arc<str> = Arc::from(value);
        let mut entries = m.cur.entries.clone();
        for i in hits {
            if let Some(e) = entries.get_mut(i) {
                e.value = value.clone();
            }
        }
        let mut m2 = (**m).clone();
        m2.cur = Arc::new(m.cur.with_values(entries));
        Ok(self.replace(m2))
    }

    /// This set without the entries named by `key` (or `#<id>`).
    pub fn with_deleted(&self, ident: &str, key: &str) -> Result<MapSet, MapError> {
        let m = self.must(ident)?;
        let hits = m.find(key)?;
        if hits.is_empty() {
            return Err(MapError::NoSuchEntry {
                name: m.name.to_string(),
                key: key.to_owned(),
            });
        }
        let entries: Vec<Entry> = m
            .cur
            .entries
            .iter()
            .enumerate()
            .filter(|(i, _)| !hits.contains(i))
            .map(|(_, e)| e.clone())
            .collect();
        debug_assert_eq!(entries.len() + hits.len(), m.cur.entries.len());
        Ok(self.replace(m.with_current(entries)?))
    }

    /// This set with map `ident` emptied (or its prepared `version`; clearing a version
    /// nobody filled is a no-op, as in HAProxy).
    pub fn with_cleared(&self, ident: &str, version: Option<u32>) -> Result<MapSet, MapError> {
        let m = self.must(ident)?;
        match version {
            Some(v) if v != m.cur_gen => {
                if !m.pending.contains_key(&v) {
                    return Ok(self.clone());
                }
                let mut m2 = (**m).clone();
                m2.pending.insert(v, Arc::new(Vec::new()));
                Ok(self.replace(m2))
            }
            _ => Ok(self.replace(m.with_current(Vec::new())?)),
        }
    }

    /// This set with a new empty prepared version of map `ident`; returns its number.
    pub fn with_prepared(&self, ident: &str) -> Result<(MapSet, u32), MapError> {
        let m = self.must(ident)?;
        if m.pending.len() >= PENDING_VERSIONS_MAX {
            return Err(MapError::TooManyVersions {
                name: m.name.to_string(),
                max: PENDING_VERSIONS_MAX,
            });
        }
        let mut m2 = (**m).clone();
        m2.next_gen = m.next_gen.wrapping_add(1);
        let v = m2.next_gen;
        m2.pending.insert(v, Arc::new(Vec::new()));
        Ok((self.replace(m2), v))
    }

    /// This set with prepared `version` of map `ident` as its current entries; older
    /// prepared versions are dropped, newer ones kept (HAProxy's `pat_ref_commit`).
    pub fn with_committed(&self, ident: &str, version: u32) -> Result<MapSet, MapError> {
        let m = self.must(ident)?;
        // HAProxy: valid versions are cur+1 ..= next (wrapping); an unfilled one is empty.
        if version.wrapping_sub(m.cur_gen.wrapping_add(1)) >= m.next_gen.wrapping_sub(m.cur_gen) {
            return Err(MapError::VersionOutOfRange {
                name: m.name.to_string(),
                version,
                cur: m.cur_gen,
                next: m.next_gen,
            });
        }
        let entries = m.pending.get(&version).map(|e| (**e).clone()).unwrap_or_default();
        let mut m2 = m.with_current(entries)?;
        m2.cur_gen = version;
        m2.pending.retain(|&v, _| (v.wrapping_sub(version) as i32) > 0);
        Ok(self.replace(m2))
    }
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The published [`MapSet`] behind one atomic pointer: engine threads read it lock-free,
/// the control thread swaps whole changes in.
#[derive(Debug)]
pub struct Maps {
    cur: ArcSwap<MapSet>,
}

impl Default for Maps {
    fn default() -> Self {
        Maps::new(MapSet::new())
    }
}

impl Maps {
    /// Maps publishing `set`.
    pub fn new(set: MapSet) -> Maps {
        Maps {
            cur: ArcSwap::from_pointee(set),
        }
    }

    /// The current set, lock-free; hold the guard briefly (per request).
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Arc<MapSet>> {
        self.cur.load()
    }

    /// Applies a change atomically: `f` builds the next set from the current one (or
    /// refuses), published with one compare-and-swap; `f` runs again if another writer won
    /// the race, so it must be pure. Returns `f`'s extra result.
    pub fn update<R>(&self, f: impl Fn(&MapSet) -> Result<(MapSet, R), MapError>) -> Result<R, MapError> {
        for _ in 0..UPDATE_ATTEMPTS_MAX {
            let cur = self.cur.load_full();
            let (mut next, r) = f(&cur)?;
            next.generation = cur.generation + 1;
            let prev = self.cur.compare_and_swap(&cur, Arc::new(next));
            if Arc::ptr_eq(&prev, &cur) {
                return Ok(r);
            }
        }
        Err(MapError::Contended {
            attempts: UPDATE_ATTEMPTS_MAX,
        })
    }

    /// Registers map `name` for `kind` (config: a `map_beg(virt@x)` converter).
    pub fn register(&self, name: &str, kind: MatchKind, origin: &str) -> Result<(), MapError> {
        self.update(|s| Ok((s.with_registered(name, kind, origin)?, ())))
    }

    /// Registers a map file and loads its entries (config: `map_str(/etc/x.map)`).
    pub fn load_file(&self, path: &Path, kind: MatchKind, origin: &str) -> Result<(), MapError> {
        let pairs = read_map_file(path)?;
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let name = path.display().to_string();
        self.update(|s| {
            let reg = s.with_registered(&name, kind, origin)?;
            let fresh = reg.map(&name).is_some_and(|m| m.cur.entries.is_empty());
            let next = if fresh {
                reg.with_added(&name, None, &refs)?
            } else {
                reg
            };
            Ok((next, ()))
        })
    }

    /// `add map [@<ver>] <map> <key> <value>` (or many pairs from a payload), all or none.
    pub fn add(&self, ident: &str, version: Option<u32>, pairs: &[(&str, &str)]) -> Result<(), MapError> {
        self.update(|s| Ok((s.with_added(ident, version, pairs)?, ())))
    }

    /// `set map <map> <key>|#<id> <value>`.
    pub fn set(&self, ident: &str, key: &str, value: &str) -> Result<(), MapError> {
        self.update(|s| Ok((s.with_set(ident, key, value)?, ())))
    }

    /// `del map <map> <key>|#<id>`.
    pub fn del(&self, ident: &str, key: &str) -> Result<(), MapError> {
        self.update(|s| Ok((s.with_deleted(ident, key)?, ())))
    }

    /// `clear map [@<ver>] <map>`.
    pub fn clear(&self, ident: &str, version: Option<u32>) -> Result<(), MapError> {
        self.update(|s| Ok((s.with_cleared(ident, version)?, ())))
    }

    /// `prepare map <map>`: returns the new version number.
    pub fn prepare(&self, ident: &str) -> Result<u32, MapError> {
        self.update(|s| s.with_prepared(ident))
    }

    /// `commit map @<ver> <map>`.
    pub fn commit(&self, ident: &str, version: u32) -> Result<(), MapError> {
        self.update(|s| Ok((s.with_committed(ident, version)?, ())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(kind: MatchKind, pairs: &[(&str, &str)]) -> Maps {
        let m = Maps::default();
        m.register("virt@t", kind, "test").unwrap();
        m.add("virt@t", None, pairs).unwrap();
        m
    }

    #[test]
    fn lookups_per_kind() {
        type Case<'a> = (MatchKind, &'a [(&'a str, &'a str)], &'a str, Option<&'a str>);
        let cases: &[Case] = &[
            (MatchKind::Str, &[("/a", "1")], "/a", Some("1")),
            (MatchKind::Str, &[("/a", "1")], "/ab", None),
            (
                MatchKind::Beg,
                &[("/test", "x"), ("/", "root")],
                "/test/deeper",
                Some("x"),
            ),
            (
                MatchKind::Beg,
                &[("/", "root"), ("/test", "x")],
                "/test/deeper",
                Some("x"),
            ),
            (MatchKind::Beg, &[("/test", "x")], "/tes", None),
            (MatchKind::End, &[(".jpg", "img")], "/a/b.jpg", Some("img")),
            (MatchKind::End, &[(".jpg", "img")], "/a/b.jpeg", None),
            (
                MatchKind::Dom,
                &[("example.com", "e")],
                "www.example.com",
                Some("e"),
            ),
            (
                MatchKind::Dom,
                &[("example.com", "e")],
                "example.com:80",
                Some("e"),
            ),
            (
                MatchKind::Dom,
                &[(".example.com.", "e")],
                "a.example.com",
                Some("e"),
            ),
            (MatchKind::Dom, &[("example.com", "e")], "badexample.com", None),
            (MatchKind::Dom, &[("example", "e")], "/x/example/y", Some("e")),
            (
                MatchKind::Reg,
                &[("^/api/v[0-9]+", "api")],
                "/api/v2/x",
                Some("api"),
            ),
            (MatchKind::Reg, &[("^/api/v[0-9]+", "api")], "/apiv2", None),
        ];
        for (kind, pairs, sample, want) in cases {
            let m = maps(*kind, pairs);
            assert_eq!(m.load().lookup("virt@t", *kind, sample), *want, "{kind} {sample}");
        }
        let m = maps(MatchKind::Str, &[("a", "1")]);
        assert_eq!(m.load().lookup("virt@none", MatchKind::Str, "a"), None);
    }

    #[test]
    fn dom_scan_agrees_with_index() {
        let long = "a.".repeat(DOM_BOUNDARIES_MAX) + "example.com";
        let m = maps(MatchKind::Dom, &[("example.com", "e")]);
        assert_eq!(m.load().lookup("virt@t", MatchKind::Dom, &long), Some("e"));
        assert!(dom_scan(b"www.example.com", b"example.com"));
        assert!(!dom_scan(b"wwwexample.com", b"example.com"));
        assert!(!dom_scan(b"x", b"..."));
    }

    #[test]
    fn changes_keep_order_and_ids() {
        let m = maps(MatchKind::Str, &[("a", "1"), ("b", "2"), ("a", "3")]);
        let ids: Vec<u64> = m
            .load()
            .map("virt@t")
            .unwrap()
            .current()
            .entries()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(m.load().lookup("virt@t", MatchKind::Str, "a"), Some("1"));
        m.set("virt@t", "a", "9").unwrap();
        assert_eq!(m.load().lookup("virt@t", MatchKind::Str, "a"), Some("9"));
        m.set("virt@t", "#0x2", "7").unwrap();
        assert_eq!(m.load().lookup("virt@t", MatchKind::Str, "b"), Some("7"));
        m.del("virt@t", "a").unwrap();
        assert_eq!(m.load().map("virt@t").unwrap().current().entries().len(), 1);
        assert_eq!(
            m.del("virt@t", "zz"),
            Err(MapError::NoSuchEntry {
                name: "virt@t".into(),
                key: "zz".into()
            })
        );
        m.clear("virt@t", None).unwrap();
        assert!(m.load().map("virt@t").unwrap().current().entries().is_empty());
    }

    #[test]
    fn rejected_changes_apply_nothing() {
        let m = maps(MatchKind::Reg, &[("^a", "1")]);
        let before = m.load().generation();
        assert!(matches!(
            m.add("virt@t", None, &[("^b", "2"), ("(", "3")]),
            Err(MapError::BadRegex { .. })
        ));
        assert_eq!(m.load().generation(), before);
        assert_eq!(m.load().map("virt@t").unwrap().current().entries().len(), 1);
        assert!(matches!(
            m.add("virt@x", None, &[("a", "1")]),
            Err(MapError::NoSuchMap { .. })
        ));
        assert_eq!(m.add("virt@t", None, &[("", "1")]), Err(MapError::EmptyKey));
    }

    #[test]
    fn prepare_commit_replaces_whole() {
        let m = maps(MatchKind::Beg, &[("/old", "o")]);
        let v = m.prepare("virt@t").unwrap();
        assert_eq!(v, 1);
        m.add("virt@t", Some(v), &[("/new", "n")]).unwrap();
        assert_eq!(m.load().lookup("virt@t", MatchKind::Beg, "/new/x"), None);
        assert_eq!(m.load().lookup("virt@t", MatchKind::Beg, "/old/x"), Some("o"));
        assert!(matches!(
            m.commit("virt@t", 5),
            Err(MapError::VersionOutOfRange { .. })
        ));
        assert!(matches!(
            m.add("virt@t", Some(7), &[("/f", "f")]),
            Err(MapError::FutureVersion { .. })
        ));
        assert!(matches!(
            m.set("virt@t", "#0xzz", "f"),
            Err(MapError::MalformedRef { .. })
        ));
        m.commit("virt@t", v).unwrap();
        assert_eq!(m.load().lookup("virt@t", MatchKind::Beg, "/new/x"), Some("n"));
        assert_eq!(m.load().lookup("virt@t", MatchKind::Beg, "/old/x"), None);
        assert_eq!(m.load().map("virt@t").unwrap().current_version(), 1);
        for _ in 0..PENDING_VERSIONS_MAX {
            m.prepare("virt@t").unwrap();
        }
        assert!(matches!(
            m.prepare("virt@t"),
            Err(MapError::TooManyVersions { .. })
        ));
    }

    #[test]
    fn map_file_format() {
        let text = "# comment\n\n/a  one two \r\n  /b\ttwo\n/c\n  # also comment\n";
        let pairs = parse_map_text(text, "f").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("/a".to_string(), "one two".to_string()),
                ("/b".to_string(), "two".to_string()),
                ("/c".to_string(), String::new()),
            ]
        );
        let dir = std::env::temp_dir().join(format!("ringlb-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.map");
        std::fs::write(&p, text).unwrap();
        let m = Maps::default();
        m.load_file(&p, MatchKind::Str, "cfg").unwrap();
        assert_eq!(
            m.load().lookup(&p.display().to_string(), MatchKind::Str, "/b"),
            Some("two")
        );
        assert!(matches!(
            m.load_file(&dir.join("missing"), MatchKind::Str, ""),
            Err(MapError::File { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn appended_indexes_answer_like_rebuilt_ones() {
        let keys = [
            "/a",
            "/a/b",
            "example.com",
            ".jpg",
            "/a",
            "x.example.com",
            "/z",
            "com",
            "/a/b/c",
            "^/r[0-9]",
            "b.jpg",
        ];
        let samples = [
            "/a/b/c/d",
            "/a",
            "www.example.com",
            "pic.jpg",
            "/z/1",
            "x.example.com:80",
            "/r5",
            "none",
        ];
        let kinds = [
            MatchKind::Str,
            MatchKind::Beg,
            MatchKind::Dom,
            MatchKind::End,
            MatchKind::Reg,
        ];
        let pairs: Vec<(String, String)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.to_string(), format!("v{i}")))
            .collect();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let whole = Maps::default();
        let inc = Maps::default();
        for k in kinds {
            whole.register("virt@m", k, "").unwrap();
            inc.register("virt@m", k, "").unwrap();
        }
        whole.add("virt@m", None, &refs).unwrap();
        for chunk in refs.chunks(3) {
            inc.add("virt@m", None, chunk).unwrap();
        }
        // `set map` shares the indexes: answers change only in values.
        inc.set("virt@m", "/z", "v6").unwrap();
        for k in kinds {
            for s in samples {
                assert_eq!(
                    inc.load().lookup("virt@m", k, s),
                    whole.load().lookup("virt@m", k, s),
                    "{k} {s}"
                );
            }
        }
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        const KEYS: &[&str] = &["/", "/a", "/a/b", "/ab", "b.c", ".c", "c", "x.b.c"];
        const SAMPLES: &[&str] = &["/a/b/c", "/ab", "b.c", "x.b.c", "/", "zz", "/a", "w.x.b.c:80"];

        #[derive(Debug, Clone)]
        enum Op {
            Add(usize, u8),
            Set(usize, u8),
            Del(usize),
            Clear,
            Replace(Vec<(usize, u8)>),
        }

        fn op() -> impl Strategy<Value = Op> {
            let k = 0..KEYS.len();
            prop_oneof![
                4 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Op::Add(k, v)),
                2 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
                2 => k.clone().prop_map(Op::Del),
                1 => Just(Op::Clear),
                1 => proptest::collection::vec((k, any::<u8>()), 0..5).prop_map(Op::Replace),
            ]
        }

        /// The naive answers: HAProxy's rules written as scans of the entry list.
        fn expect(model: &[(String, String)], kind: MatchKind, s: &str) -> Option<String> {
            let hit = |k: &str| match kind {
                MatchKind::Str => k == s,
                MatchKind::Beg => s.starts_with(k),
                MatchKind::End => s.ends_with(k),
                MatchKind::Dom => dom_scan(s.as_bytes(), k.as_bytes()),
                MatchKind::Reg => false,
            };
            let mut hits = model.iter().filter(|(k, _)| hit(k));
            if kind == MatchKind::Beg {
                // Longest prefix; the first inserted among equal keys.
                let best = model.iter().filter(|(k, _)| hit(k)).map(|(k, _)| k.len()).max()?;
                return model
                    .iter()
                    .find(|(k, _)| hit(k) && k.len() == best)
                    .map(|(_, v)| v.clone());
            }
            hits.next().map(|(_, v)| v.clone())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
            #[test]
            fn maps_answer_like_the_model(ops in proptest::collection::vec(op(), 1..40)) {
                let kinds = [MatchKind::Str, MatchKind::Beg, MatchKind::End, MatchKind::Dom];
                let m = Maps::default();
                for k in kinds {
                    m.register("virt@p", k, "").unwrap();
                }
                let mut model: Vec<(String, String)> = Vec::new();
                for op in ops {
                    match op {
                        Op::Add(k, v) => {
                            m.add("virt@p", None, &[(KEYS[k], &v.to_string())]).unwrap();
                            model.push((KEYS[k].to_string(), v.to_string()));
                        }
                        Op::Set(k, v) => {
                            let r = m.set("virt@p", KEYS[k], &v.to_string());
                            let any = model.iter().any(|(mk, _)| mk == KEYS[k]);
                            prop_assert_eq!(r.is_ok(), any);
                            for e in model.iter_mut().filter(|(mk, _)| mk == KEYS[k]) {
                                e.1 = v.to_string();
                            }
                        }
                        Op::Del(k) => {
                            let r = m.del("virt@p", KEYS[k]);
                            prop_assert_eq!(r.is_ok(), model.iter().any(|(mk, _)| mk == KEYS[k]));
                            model.retain(|(mk, _)| mk != KEYS[k]);
                        }
                        Op::Clear => {
                            m.clear("virt@p", None).unwrap();
                            model.clear();
                        }
                        Op::Replace(pairs) => {
                            let ver = m.prepare("virt@p").unwrap();
                            let owned: Vec<(String, String)> =
                                pairs.iter().map(|&(k, v)| (KEYS[k].to_string(), v.to_string())).collect();
                            let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                            m.add("virt@p", Some(ver), &refs).unwrap();
                            m.commit("virt@p", ver).unwrap();
                            model = owned;
                        }
                    }
                    let set = m.load();
                    let map = set.map("virt@p").unwrap();
                    prop_assert_eq!(map.current().entries().len(), model.len());
                    for k in kinds {
                        for s in SAMPLES {
                            prop_assert_eq!(
                                set.lookup("virt@p", k, s).map(str::to_owned),
                                expect(&model, k, s),
                                "{} {}", k, s
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn hundred_thousand_entries() {
        let keys: Vec<String> = (0..100_000).map(|i| format!("/p{i}/x")).collect();
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        let m = Maps::default();
        m.register("virt@big", MatchKind::Beg, "").unwrap();
        m.add("virt@big", None, &pairs).unwrap();
        let s = m.load();
        assert_eq!(s.lookup("virt@big", MatchKind::Beg, "/p99999/x/y"), Some("v"));
        assert_eq!(s.lookup("virt@big", MatchKind::Str, "/p5/x"), Some("v"));
        assert_eq!(s.lookup("virt@big", MatchKind::Beg, "/q"), None);
    }
}
