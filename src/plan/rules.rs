//! Mapping rules: a changed repository path → the public URLs that serve it.
//!
//! A deploy changes files; a CDN caches URLs. The rules say how one becomes the other, so that a
//! run refreshes exactly what changed instead of the whole site. They are written one per line
//! (the `--mapping` input, or the `mapping` key of the config file):
//!
//! ```text
//! # comments and blank lines are skipped
//! !public/**/*.map                                  # an exclude: maps to nothing
//! layouts/** => @all                                # a whole-site rule
//! public/** => https://www.example.com/{path}, https://example.com/{path}
//! ```
//!
//! A `#` at the start of a line or after whitespace starts a comment (a URL holds no
//! whitespace, and a glob can match a literal ` #` as ` [#]`), so rules can be annotated in a
//! YAML block string too. The first rule whose glob matches a path decides, so an exclude or a whole-site rule written
//! above a mapping rule wins over it. `docs/mapping.md` is the user documentation; this comment
//! says why the rules are what they are.
//!
//! # Globs
//!
//! Globs match the whole repository-relative path with `/` separators, case-sensitively, as git
//! reports paths: `*` and `?` stay within one folder, `**` crosses folders, `[abc]`/`[!abc]` are
//! character classes, `{a,b}` alternatives, and `\` escapes a literal metacharacter (a file named
//! `[1].html` is `\[1\].html`). Crossing folders only with `**` is what gitignore and every static
//! site generator's own config do, so the same glob means the same thing everywhere.
//!
//! # Tokens
//!
//! For the path `public/blog/post 1.html` matched by `public/**`:
//!
//! | token | meaning | value |
//! |---|---|---|
//! | `{path}` | the path below the glob's literal prefix | `blog/post 1.html` |
//! | `{file}` | the whole repository-relative path | `public/blog/post 1.html` |
//! | `{dir}` | the folder of `{path}`, no trailing `/`; empty at the top | `blog` |
//! | `{name}` | the file name | `post 1.html` |
//! | `{stem}` | the file name without its last extension | `post 1` |
//! | `{ext}` | the last extension, without the dot; empty if none | `html` |
//!
//! The literal prefix is made of the glob's leading whole folders that contain no glob
//! metacharacter: `public/` for `public/**` and `public/**/*.html`, `_site/blog/` for
//! `_site/blog/*.html`, nothing for `**/*.css` or `{a,b}/**`. A dot file has no extension
//! (`.htaccess` is all stem), as with `std::path::Path`. When `{dir}` is empty, a `/` right after
//! it in the template is dropped, so `https://x.com/{dir}/{name}` gives `https://x.com/a.html`
//! for a top-level file rather than `https://x.com//a.html`, which is a different cache key.
//!
//! # Encoding
//!
//! Token values are file names, not URL text: a file literally named `a#b?.html` is served at
//! `a%23b%3F.html`, and `100%.html` at `100%25.html`. Each path segment of a token value is
//! therefore percent-encoded here, keeping only RFC 3986 `pchar` characters (unreserved,
//! sub-delims, `:` and `@`) and encoding everything else as UTF-8. `url_list::normalize` then
//! normalizes the whole URL exactly as it does URL lists (host case, punycode, default port), so
//! a mapped URL and the same URL given in a list are one cache key. Nothing is case-folded. The
//! order matters: `normalize` would read a raw `#` as a fragment and `?` as a query.
//!
//! Templates are checked when the rules are parsed by expanding a sample path: each must be an
//! absolute http(s) URL whose scheme and host are written out (tokens stand only in the path),
//! so a bad template fails before anything is sent rather than on the first unusual file name.
//! URL length is not checked here: that limit is the provider's, and the caller validates mapped
//! URLs against it like any other URL.
//!
//! # Index files and pretty URLs
//!
//! A static site serves `blog/index.html` as `/blog/`, and a cache holds whichever spellings
//! clients requested. By default an index file maps to the folder URL (`…/blog/`); the options
//! add `…/blog` and `…/blog/index.html`, and `pretty_urls` adds `…/about` next to
//! `…/about.html`. These apply to every URL whose last path segment is an index file name or
//! ends with `.html`, whatever template produced it.
//!
//! # Whole-site rules
//!
//! Some files change every page (a layout, the generator's config). `GLOB => @all` maps them to
//! [`Mapping::WholeSite`], a directory refresh of every root: the literal start of each template
//! up to its first token, cut back to a `/` (`https://example.com/docs/{path}` →
//! `https://example.com/docs/`). Roots are what "refresh everything" means for this site.

use std::fmt;
use std::ops::Range;

use globset::{GlobBuilder, GlobMatcher};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::input::url_list;
use crate::providers::ObjectType;

/// The template of a whole-site rule.
pub const WHOLE_SITE: &str = "@all";

/// Template tokens, as written between braces.
pub const TOKENS: [&str; 6] = ["path", "file", "dir", "name", "stem", "ext"];

/// Characters percent-encoded in a path segment: all but RFC 3986 `pchar` (unreserved,
/// sub-delims, `:` and `@`). `%` is encoded: in a file name it is a literal percent sign.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// [`SEGMENT`] with `/` kept: encodes a whole path in one pass, segment by segment.
const PATH: &AsciiSet = &SEGMENT.remove(b'/');

/// Which URLs an index file (`dir/index.html`) maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndexUrl {
    /// `…/dir/`
    Slash,
    /// `…/dir`
    Bare,
    /// `…/dir/index.html`
    File,
}

/// How mapped file URLs are spelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapOptions {
    /// File names a folder URL serves. Empty: no index handling.
    pub index_files: Vec<String>,
    /// The URLs of an index file, in output order.
    pub index_urls: Vec<IndexUrl>,
    /// Also map `about.html` to `…/about`.
    pub pretty_urls: bool,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            index_files: vec!["index.html".to_string()],
            index_urls: vec![IndexUrl::Slash],
            pretty_urls: false,
        }
    }
}

/// What [`RuleSet::map_into`] found for a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapped {
    /// Its URLs were appended.
    Files,
    Excluded,
    Unmatched,
    /// Refresh every root ([`RuleSet::roots`]) as a directory.
    WholeSite,
}

/// What a changed path maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// URLs to refresh as files, normalized, deduplicated, in template order.
    Files(Vec<String>),
    /// The first matching rule is an exclude (`!GLOB`).
    Excluded,
    /// No rule matches (or the path is not a repository file path).
    Unmatched,
    /// A whole-site rule matched: refresh these roots as directories.
    WholeSite(Vec<String>),
}

/// A rule that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based line number in the rule text (or in the config file).
    pub line: usize,
    /// The trimmed rule.
    pub text: String,
    /// What is wrong and how to fix it, as a sentence.
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::echo::{SERVER, VALUE, cap};
        write!(
            f,
            "line {}: {}: {}",
            self.line,
            cap(&self.text, VALUE),
            cap(&self.reason, SERVER)
        )
    }
}

impl std::error::Error for RuleError {}

/// Parsed, validated rules.
#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    options: MapOptions,
    /// `options.index_files`, percent-encoded as they appear in a mapped URL.
    index_segments: Vec<String>,
    roots: Vec<String>,
}

#[derive(Clone, Debug)]
struct Rule {
    matcher: Matcher,
    /// The glob's literal folder prefix, removed from a path to give `{path}`.
    prefix: String,
    action: Action,
}

#[derive(Clone, Debug)]
enum Matcher {
    /// A glob that is a plain folder prefix followed by `**` (`public/**`), matched as that
    /// prefix: the most common rule, and its regex match cost more than the rest of
    /// mapping a path.
    Under(String),
    Glob(GlobMatcher),
}

impl Matcher {
    fn is_match(&self, path: &str) -> bool {
        match self {
            Matcher::Under(prefix) => path.starts_with(prefix.as_str()),
            Matcher::Glob(glob) => glob.is_match(path),
        }
    }
}

#[derive(Clone, Debug)]
enum Action {
    Exclude,
    WholeSite,
    Urls(Vec<Template>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Path,
    File,
    Dir,
    Name,
    Stem,
    Ext,
}

#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    Token(Token),
}

#[derive(Clone, Debug)]
struct Template {
    pieces: Vec<Piece>,
    /// The directory URL its output lives under (see [`template_root`]).
    root: String,
    /// Length of the scheme and host its output starts with, when `url_list::normalize`
    /// leaves them as written (see [`is_plain_path`]); 0 otherwise.
    plain_origin: usize,
}

/// The token values of one path.
struct Values<'a> {
    file: &'a str,
    path: &'a str,
    dir: &'a str,
    name: &'a str,
    stem: &'a str,
    ext: &'a str,
}

impl<'a> Values<'a> {
    fn new(file: &'a str, prefix: &str) -> Self {
        let path = file.strip_prefix(prefix).unwrap_or(file);
        let (dir, name) = rsplit_once(path, b'/').unwrap_or(("", path));
        let (stem, ext) = match rsplit_once(name, b'.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, ext),
            _ => (name, ""),
        };
        Values {
            file,
            path,
            dir,
            name,
            stem,
            ext,
        }
    }

    fn get(&self, token: Token) -> &'a str {
        match token {
            Token::Path => self.path,
            Token::File => self.file,
            Token::Dir => self.dir,
            Token::Name => self.name,
            Token::Stem => self.stem,
            Token::Ext => self.ext,
        }
    }
}

/// [`RuleSet::map_all`] maps on one thread below this many paths: a thread costs tens of
/// microseconds to start, a path about one to map.
const MAP_ON_THREADS_FROM: usize = 1000;

/// At most this many threads map (the diff's own limit, for the same reason: a guess).
const MAX_MAP_THREADS: usize = 4;

const FILE_URL: url_list::Rules = url_list::Rules {
    max_len: usize::MAX,
    object_type: ObjectType::File,
};

const DIRECTORY_URL: url_list::Rules = url_list::Rules {
    max_len: usize::MAX,
    object_type: ObjectType::Directory,
};

impl RuleSet {
    /// Parses rule text, one rule per line (numbered from 1). Returns every bad rule.
    pub fn parse(text: &str, options: &MapOptions) -> Result<RuleSet, Vec<RuleError>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Self::from_lines(
            text.lines().enumerate().map(|(i, line)| (i + 1, line)),
            options,
        )
    }

    /// Parses rules given with their own line numbers (as a config file's list items are).
    pub fn from_lines<'a>(
        lines: impl IntoIterator<Item = (usize, &'a str)>,
        options: &MapOptions,
    ) -> Result<RuleSet, Vec<RuleError>> {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (line, raw) in lines {
            let text = strip_comment(raw).trim();
            if text.is_empty() {
                continue;
            }
            match parse_rule(text) {
                Ok(rule) => rules.push((line, text.to_string(), rule)),
                Err(reason) => errors.push(RuleError {
                    line,
                    text: text.to_string(),
                    reason,
                }),
            }
        }
        let mut roots: Vec<String> = Vec::new();
        for (_, _, rule) in &rules {
            if let Action::Urls(templates) = &rule.action {
                for template in templates {
                    if !roots.contains(&template.root) {
                        roots.push(template.root.clone());
                    }
                }
            }
        }
        let whole_site = rules
            .iter()
            .find(|(_, _, rule)| matches!(rule.action, Action::WholeSite));
        // Checked only when every rule parsed: a bad template line would make it spurious.
        if let Some((line, text, _)) = whole_site.filter(|_| roots.is_empty() && errors.is_empty())
        {
            errors.push(RuleError {
                line: *line,
                text: text.clone(),
                reason: "A whole-site rule refreshes the roots of the URL templates, but no \
                         rule has a template; add a mapping rule such as \
                         `public/** => https://www.example.com/{path}`."
                    .to_string(),
            });
        }
        if errors.is_empty() {
            let rules = rules.into_iter().map(|(_, _, rule)| rule).collect();
            Ok(RuleSet {
                rules,
                options: options.clone(),
                index_segments: options
                    .index_files
                    .iter()
                    .map(|n| encode_segment(n))
                    .collect(),
                roots,
            })
        } else {
            errors.sort_by_key(|e| e.line);
            Err(errors)
        }
    }

    /// True when there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The root of every template, in rule order, deduplicated: normalized directory URLs (each
    /// ends with `/`), the scope of a directory refresh or of "refresh everything".
    pub fn roots(&self) -> Vec<String> {
        self.roots.clone()
    }

    /// Maps one repository-relative path (`/`-separated, as git prints it; a leading `./` is
    /// ignored). A path with an empty, `.` or `..` segment names no file and is `Unmatched`.
    pub fn map(&self, path: &str) -> Mapping {
        let mut urls = Vec::new();
        match self.map_into(path, &mut urls) {
            Mapped::Files => Mapping::Files(urls),
            Mapped::Excluded => Mapping::Excluded,
            Mapped::Unmatched => Mapping::Unmatched,
            Mapped::WholeSite => Mapping::WholeSite(self.roots()),
        }
    }

    /// Maps every path ([`RuleSet::map_into`]): all their URLs in path order, and for each
    /// path what it mapped to and the range of `urls` that is its own. Many paths are split
    /// among threads: on the 20,000-change benchmark mapping was a fifth of `plan`, all of
    /// it on one core after the diff's threads had finished.
    pub fn map_all(&self, paths: &[&str]) -> (Vec<String>, Vec<(Mapped, Range<usize>)>) {
        let threads = if paths.len() < MAP_ON_THREADS_FROM {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_MAP_THREADS))
        };
        self.map_on_threads(paths, threads)
    }

    /// [`RuleSet::map_all`] on `threads` threads.
    fn map_on_threads(
        &self,
        paths: &[&str],
        threads: usize,
    ) -> (Vec<String>, Vec<(Mapped, Range<usize>)>) {
        let map_chunk = |chunk: &[&str]| {
            let mut urls = Vec::with_capacity(chunk.len());
            let mappings: Vec<_> = chunk
                .iter()
                .map(|path| {
                    let start = urls.len();
                    let mapped = self.map_into(path, &mut urls);
                    (mapped, start..urls.len())
                })
                .collect();
            (urls, mappings)
        };
        if threads <= 1 || paths.is_empty() {
            return map_chunk(paths);
        }
        let mut chunks = paths.chunks(paths.len().div_ceil(threads));
        let mine = chunks.next().unwrap_or_default();
        let parts: Vec<_> = std::thread::scope(|scope| {
            let theirs: Vec<_> = chunks.map(|c| scope.spawn(move || map_chunk(c))).collect();
            let mut parts = vec![map_chunk(mine)];
            for handle in theirs {
                parts.push(
                    handle
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                );
            }
            parts
        });
        let mut urls = Vec::with_capacity(parts.iter().map(|(u, _)| u.len()).sum());
        let mut mappings = Vec::with_capacity(paths.len());
        for (part_urls, part_mappings) in parts {
            let offset = urls.len();
            mappings.extend(
                part_mappings
                    .into_iter()
                    .map(|(m, r)| (m, r.start + offset..r.end + offset)),
            );
            urls.extend(part_urls);
        }
        (urls, mappings)
    }

    /// [`RuleSet::map`], appending a file mapping's URLs to `urls`: mapping tens of thousands
    /// of paths then allocates no list per path.
    pub fn map_into(&self, path: &str, urls: &mut Vec<String>) -> Mapped {
        let path = path.strip_prefix("./").unwrap_or(path);
        if has_no_file_segment(path.as_bytes()) {
            return Mapped::Unmatched;
        }
        let Some(rule) = self.rules.iter().find(|r| r.matcher.is_match(path)) else {
            return Mapped::Unmatched;
        };
        match &rule.action {
            Action::Exclude => Mapped::Excluded,
            Action::WholeSite => Mapped::WholeSite,
            Action::Urls(templates) => {
                let values = Values::new(path, &rule.prefix);
                let start = urls.len();
                for template in templates {
                    let url = template.expand(&values);
                    // Normalizing means parsing the URL, the most expensive step of a mapping;
                    // a URL it would leave as it is skips it.
                    let plain =
                        template.plain_origin > 0 && is_plain_path(&url[template.plain_origin..]);
                    // Cannot fail: the template's origin and literal text were checked at parse
                    // time, and token values are fully percent-encoded. Should it ever fail, the
                    // encoded URL goes on and the provider-limit check reports it.
                    let (url, query) = if plain {
                        // A plain URL has no query.
                        let end = url.len();
                        (url, end)
                    } else {
                        let url = url_list::normalize(&url, &FILE_URL).unwrap_or(url);
                        let query = url.find('?').unwrap_or(url.len());
                        (url, query)
                    };
                    self.push_variants(url, query, urls, start);
                }
                Mapped::Files
            }
        }
    }

    /// Pushes `url`, whose query starts at `query_start` (its length without one), and its
    /// index / pretty-URL spellings onto `out`, unless `out[start..]` (this path's URLs so
    /// far) holds them already.
    fn push_variants(&self, url: String, query_start: usize, out: &mut Vec<String>, start: usize) {
        // `query` is empty or starts with `?`.
        let (path, query) = url.split_at(query_start);
        // Normalized URLs always have a path, so there is a `/` after the host.
        let (folder, last) = rsplit_once(path, b'/').unwrap_or((path, ""));
        let is_index = !last.is_empty() && self.index_segments.iter().any(|name| name == last);
        if is_index {
            // `folder` has no trailing slash; at the site root it is the bare origin, whose
            // URL is the root itself.
            let at_root = folder
                .split_once("://")
                .is_some_and(|(_, rest)| !rest.contains('/'));
            for variant in &self.options.index_urls {
                let spelled = match variant {
                    IndexUrl::Slash => format!("{folder}/{query}"),
                    IndexUrl::Bare if at_root => format!("{folder}/{query}"),
                    IndexUrl::Bare => format!("{folder}{query}"),
                    IndexUrl::File => url.clone(),
                };
                push_unique(out, start, spelled);
            }
            return;
        }
        let pretty = self
            .options
            .pretty_urls
            .then(|| last.strip_suffix(".html"))
            .flatten()
            .filter(|stem| !stem.is_empty())
            .map(|stem| format!("{folder}/{stem}{query}"));
        push_unique(out, start, url);
        if let Some(pretty) = pretty {
            push_unique(out, start, pretty);
        }
    }
}

/// The line without its comment: a `#` at the start or after whitespace begins one. (A URL
/// holds no whitespace; a glob matches a literal ` #` as ` [#]`.)
fn strip_comment(line: &str) -> &str {
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        if c == '#' && previous.is_whitespace() {
            return &line[..i];
        }
        previous = c;
    }
    line
}

/// `text.rsplit_once(byte)` for an ASCII `byte`, by a plain loop: the std search is built for
/// long texts, and mapping a path splits three short ones.
fn rsplit_once(text: &str, byte: u8) -> Option<(&str, &str)> {
    let i = text.bytes().rposition(|b| b == byte)?;
    Some((&text[..i], &text[i + 1..]))
}

/// True when a `/`-separated path has an empty, `.` or `..` segment: one loop over the
/// bytes, run for every changed path (cheaper than the slice `split` iterator it replaces).
fn has_no_file_segment(path: &[u8]) -> bool {
    let no_file = |segment: &[u8]| matches!(segment, b"" | b"." | b"..");
    let mut start = 0;
    for (i, &b) in path.iter().enumerate() {
        if b == b'/' {
            if no_file(&path[start..i]) {
                return true;
            }
            start = i + 1;
        }
    }
    no_file(&path[start..])
}

fn push_unique(out: &mut Vec<String>, start: usize, url: String) {
    if !out[start..].contains(&url) {
        out.push(url);
    }
}

/// Percent-encodes each `/`-separated segment of a file path.
#[cfg(test)]
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    push_encoded_path(&mut out, path);
    out
}

fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// [`encode_path`], appended to `out`.
fn push_encoded_path(out: &mut String, path: &str) {
    // A path seldom holds a byte to encode: then a pass over the table of the bytes `PATH`
    // keeps and one copy do, not the encoder's iteration, which yields a piece at a time.
    if path.bytes().all(|b| PLAIN[usize::from(b)]) {
        out.push_str(path);
    } else {
        out.extend(utf8_percent_encode(path, PATH));
    }
}

/// The bytes [`is_plain_path`] takes as they are (RFC 3986 `pchar` but `%`, and `/`), as a
/// table: it looks up every byte of every mapped URL's path. They are also exactly the bytes
/// [`PATH`] does not encode.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let others = b"-._~!$&'()*+,;=:@/";
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
};

/// True when `url_list::normalize` would leave a URL made of an already normalized origin and
/// `path` exactly as it is: `path` holds only characters the URL parser keeps in a path (RFC
/// 3986 `pchar` and `/`, every `%` starting a `%XX` escape), so no query, fragment, backslash,
/// space or non-ASCII character, and no segment the parser resolves (`.`, `..`, or either
/// spelled with `%2e`). Mapped URLs almost always are; the others take the parser.
fn is_plain_path(path: &str) -> bool {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    // One pass: this runs for every mapped URL.
    let dots = |segment: &[u8]| segment == b"." || segment == b"..";
    let mut segment = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' => {
                if dots(&b[segment..i]) {
                    return false;
                }
                segment = i + 1;
            }
            b'%' => {
                if !(i + 2 < b.len()
                    && b[i + 1].is_ascii_hexdigit()
                    && b[i + 2].is_ascii_hexdigit())
                {
                    return false;
                }
                // `%2e` is a `.`, which could make a `.` or `..` segment.
                if b[i + 1] == b'2' && b[i + 2].eq_ignore_ascii_case(&b'e') {
                    return false;
                }
                i += 3;
                continue;
            }
            c if PLAIN[usize::from(c)] => {}
            _ => return false,
        }
        i += 1;
    }
    !dots(&b[segment..])
}

/// The length of the scheme and host a template's output starts with (`https://a.com` of
/// `https://a.com/{path}`), if `url_list::normalize` leaves them as written; else 0.
fn plain_origin(pieces: &[Piece]) -> usize {
    let Some(Piece::Text(first)) = pieces.first() else {
        return 0;
    };
    let Some(host_start) = first.find("://").map(|i| i + 3) else {
        return 0;
    };
    let Some(slash) = first[host_start..].find('/').map(|i| host_start + i) else {
        return 0;
    };
    let root = &first[..=slash];
    if url_list::normalize(root, &FILE_URL).is_ok_and(|n| n == root) {
        slash
    } else {
        0
    }
}

fn parse_rule(text: &str) -> Result<Rule, String> {
    if let Some(glob) = text.strip_prefix('!') {
        let glob = glob.trim();
        if glob.contains("=>") {
            return Err(
                "An exclude rule maps to nothing and takes no URL; write `!GLOB` alone, or drop \
                 the `!` to map the files."
                    .to_string(),
            );
        }
        return Ok(Rule {
            matcher: compile_glob(glob)?,
            prefix: literal_prefix(glob).to_string(),
            action: Action::Exclude,
        });
    }
    let Some((glob, templates)) = text.split_once("=>") else {
        // A near miss of the arrow (`->`, `= >`, `⇒`): say so, with the rule written right.
        for near in ["->", "= >", "=>>", "==>", "⇒", "→", " > "] {
            if let Some((glob, templates)) = text.split_once(near)
                && !glob.trim().is_empty()
                && !templates.trim().is_empty()
            {
                return Err(format!(
                    "The rule's arrow is `{}`, not `=>`; write `{} => {}`.",
                    near.trim(),
                    glob.trim(),
                    templates.trim()
                ));
            }
        }
        return Err(format!(
            "The rule has no `=>`; write `{text} => https://www.example.com/{{path}}` to map \
             these files, or `!{text}` to exclude them."
        ));
    };
    let (glob, templates) = (glob.trim(), templates.trim());
    let matcher = compile_glob(glob)?;
    if templates.is_empty() {
        return Err(format!(
            "There is no URL template after `=>`; write one, as in \
             `{glob} => https://www.example.com/{{path}}`, or `{glob} => {WHOLE_SITE}`."
        ));
    }
    let templates = split_templates(templates);
    let rule = |action| Rule {
        matcher,
        prefix: literal_prefix(glob).to_string(),
        action,
    };
    if templates.contains(&WHOLE_SITE) {
        if templates.len() > 1 {
            return Err(format!(
                "`{WHOLE_SITE}` refreshes every root and stands alone; write \
                 `{glob} => {WHOLE_SITE}` without other templates."
            ));
        }
        return Ok(rule(Action::WholeSite));
    }
    let templates = templates
        .into_iter()
        .map(Template::parse)
        .collect::<Result<_, _>>()?;
    Ok(rule(Action::Urls(templates)))
}

/// Splits the template list at each `,` that is followed by whitespace, by `http://`,
/// `https://` or `@`: a comma inside a URL is legal, whitespace never is.
fn split_templates(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices(',') {
        let after = &text[i + 1..];
        let next = after.trim_start().to_ascii_lowercase();
        if after.starts_with(char::is_whitespace)
            || after.is_empty()
            || next.starts_with("http://")
            || next.starts_with("https://")
            || next.starts_with('@')
        {
            parts.push(text[start..i].trim());
            start = i + 1;
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// The longest glob taken. Far longer than any path pattern needs, and far below the
/// size at which globset's regex cannot be built (it panics then: 87,380 `*`).
pub const MAX_GLOB: usize = 1024;

fn compile_glob(glob: &str) -> Result<Matcher, String> {
    if glob.is_empty() {
        return Err("The glob is empty; write the files to match, as in `public/**`.".to_string());
    }
    if glob.len() > MAX_GLOB {
        return Err(format!(
            "The glob is {} bytes long, over the {MAX_GLOB} a rule may have; match a folder \
             (`dir/**`) instead of listing its files.",
            glob.len()
        ));
    }
    if glob.starts_with('/') {
        return Err(format!(
            "The glob starts with `/`, but paths are relative to the repository root; write `{}`.",
            glob.trim_start_matches('/')
        ));
    }
    let prefix = literal_prefix(glob);
    if !prefix.is_empty() && glob.len() == prefix.len() + 2 && glob.ends_with("**") {
        // globset matches `DIR/**` as the regex `^DIR/.*$` (`.` matching newlines too).
        return Ok(Matcher::Under(prefix.to_string()));
    }
    GlobBuilder::new(glob)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g| Matcher::Glob(g.compile_matcher()))
        .map_err(|e| {
            format!(
                "The glob `{glob}` is not valid ({}); `*` matches within one folder, `**` across \
                 folders, `?` one character, `[abc]` one of a set, `{{a,b}}` either; escape a \
                 literal one with `\\`.",
                e.kind()
            )
        })
}

/// Checks a glob alone (as the config file's `whole_site` list holds them).
pub(crate) fn check_glob(glob: &str) -> Result<(), String> {
    compile_glob(glob).map(drop)
}

/// The glob's leading whole folders without metacharacters, with their trailing `/`.
fn literal_prefix(glob: &str) -> &str {
    let mut len = 0;
    let mut rest = glob;
    while let Some((segment, tail)) = rest.split_once('/') {
        if segment.contains(['*', '?', '[', ']', '{', '}', '\\']) {
            break;
        }
        len += segment.len() + 1;
        rest = tail;
    }
    &glob[..len]
}

/// The directory URL a template's output lives under: its text up to the first token, cut back
/// to the last `/` of the path.
fn template_root(text: &str) -> Result<String, String> {
    let head = &text[..text.find('{').unwrap_or(text.len())];
    let head = &head[..head.find('?').unwrap_or(head.len())];
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let root = match head[after_scheme..].rfind('/') {
        Some(i) => head[..after_scheme + i + 1].to_string(),
        None => format!("{head}/"),
    };
    url_list::normalize(&root, &DIRECTORY_URL)
        .map_err(|reason| format!("The template's root `{root}` is not usable: {reason}"))
}

impl Template {
    fn parse(text: &str) -> Result<Template, String> {
        if text.is_empty() {
            return Err(
                "A URL template is empty (a stray comma?); separate templates with `, `."
                    .to_string(),
            );
        }
        if text.contains(char::is_whitespace) {
            return Err(format!(
                "The template `{text}` contains whitespace; separate templates with `, ` and \
                 write a space in a URL as `%20`."
            ));
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let open = rest.find('{');
            let close = rest.find('}');
            match (open, close) {
                (None, None) => {
                    pieces.push(Piece::Text(rest.to_string()));
                    break;
                }
                (Some(open), Some(close)) if open < close => {
                    if open > 0 {
                        pieces.push(Piece::Text(rest[..open].to_string()));
                    }
                    pieces.push(Piece::Token(parse_token(&rest[open + 1..close])?));
                    rest = &rest[close + 1..];
                }
                (Some(_), None) => {
                    return Err(format!(
                        "The template `{text}` has a `{{` without `}}`; close the token, as in \
                         `{{path}}`, or write a literal brace as `%7B`."
                    ));
                }
                _ => {
                    return Err(format!(
                        "The template `{text}` has a `}}` without `{{`; write a literal brace \
                         as `%7D`."
                    ));
                }
            }
        }
        let template = Template {
            plain_origin: plain_origin(&pieces),
            pieces,
            root: String::new(),
        };

        // Expand a sample path so that every check applies to a real URL.
        let sample = Values::new("site/dir/page.html", "site/");
        let url = template.expand(&sample);
        url_list::normalize(&url, &FILE_URL).map_err(|reason| {
            format!(
                "The template `{text}` does not give a valid URL (for example `{url}`): {reason}"
            )
        })?;
        if let Some(first) = text.find('{') {
            let head = &text[..first];
            let origin_written = head
                .split_once("://")
                .is_some_and(|(_, rest)| rest.contains('/'));
            if !origin_written {
                return Err(format!(
                    "The template `{text}` has a token before the path; write the scheme and \
                     host out and use tokens in the path only, as in \
                     `https://www.example.com/{{path}}`."
                ));
            }
        }
        Ok(Template {
            root: template_root(text)?,
            ..template
        })
    }

    fn expand(&self, values: &Values<'_>) -> String {
        // The exact length when nothing needs encoding, as is usual: mapped URLs are kept
        // (tens of thousands of them, for a large diff), so no room is left over.
        let len = self.pieces.iter().map(|piece| match piece {
            Piece::Text(text) => text.len(),
            Piece::Token(token) => values.get(*token).len(),
        });
        let mut out = String::with_capacity(len.sum());
        let mut drop_slash = false;
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => {
                    let text = if drop_slash {
                        text.strip_prefix('/').unwrap_or(text)
                    } else {
                        text
                    };
                    out.push_str(text);
                    drop_slash = false;
                }
                Piece::Token(token) => {
                    let value = values.get(*token);
                    drop_slash = *token == Token::Dir && value.is_empty();
                    push_encoded_path(&mut out, value);
                }
            }
        }
        out
    }
}

fn parse_token(name: &str) -> Result<Token, String> {
    Ok(match name {
        "path" => Token::Path,
        "file" => Token::File,
        "dir" => Token::Dir,
        "name" => Token::Name,
        "stem" => Token::Stem,
        "ext" => Token::Ext,
        _ => {
            let known: Vec<String> = TOKENS.iter().map(|t| format!("{{{t}}}")).collect();
            return Err(format!(
                "Unknown token `{{{name}}}`; use one of {}.",
                known.join(", ")
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mapped on three threads, the URLs and ranges are those of mapping each path alone,
    /// in path order.
    #[test]
    fn mapping_many_paths_on_threads_is_mapping_each() {
        let rules = RuleSet::parse(
            "!public/**/*.map\nlayouts/** => @all\n\
             public/** => https://a.example.com/{path}, https://b.example.com/{dir}/{name}",
            &MapOptions::default(),
        )
        .unwrap();
        let paths: Vec<String> = (0..3000)
            .map(|i| match i % 5 {
                0 => format!("public/p{i}/index.html"),
                1 => format!("public/p{i}.js.map"),
                2 => format!("layouts/l{i}.html"),
                3 => format!("elsewhere/e{i}"),
                _ => format!("public/p {i}/é#{i}.html"),
            })
            .collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let (urls, mappings) = rules.map_on_threads(&paths, 3);
        assert_eq!(mappings.len(), paths.len());
        let mut expected_urls = Vec::new();
        for (path, (mapped, range)) in paths.iter().zip(&mappings) {
            let start = expected_urls.len();
            assert_eq!(*mapped, rules.map_into(path, &mut expected_urls), "{path}");
            assert_eq!(*range, start..expected_urls.len(), "{path}");
        }
        assert_eq!(urls, expected_urls);
        // Two of every five paths map, each to two URLs.
        assert_eq!(urls.len(), 4 * paths.len() / 5);
    }

    #[test]
    fn literal_prefix_is_whole_plain_folders() {
        assert_eq!(literal_prefix("public/**"), "public/");
        assert_eq!(literal_prefix("public/**/*.html"), "public/");
        assert_eq!(literal_prefix("_site/blog/*.html"), "_site/blog/");
        assert_eq!(literal_prefix("public/about.html"), "public/");
        assert_eq!(literal_prefix("**/*.css"), "");
        assert_eq!(literal_prefix("{a,b}/**"), "");
        assert_eq!(literal_prefix("a/b[0-9]/c"), "a/");
        assert_eq!(literal_prefix("config.toml"), "");
    }

    #[test]
    fn values_of_a_path() {
        let v = Values::new("public/a/b/post.tar.gz", "public/");
        assert_eq!(
            (v.path, v.dir, v.name, v.stem, v.ext),
            ("a/b/post.tar.gz", "a/b", "post.tar.gz", "post.tar", "gz")
        );
        let v = Values::new("public/.htaccess", "public/");
        assert_eq!((v.dir, v.stem, v.ext), ("", ".htaccess", ""));
        let v = Values::new("README", "");
        assert_eq!((v.path, v.stem, v.ext), ("README", "README", ""));
    }

    #[test]
    fn segments_keep_rfc3986_pchar_only() {
        assert_eq!(encode_path("a b/c#d?.html"), "a%20b/c%23d%3F.html");
        assert_eq!(encode_path("100%.html"), "100%25.html");
        assert_eq!(
            encode_path("a-._~!$&'()*+,;=:@z"),
            "a-._~!$&'()*+,;=:@z",
            "unreserved, sub-delims, : and @ stay"
        );
        assert_eq!(
            encode_path("\"<>\\^`{|}[]"),
            "%22%3C%3E%5C%5E%60%7B%7C%7D%5B%5D"
        );
        assert_eq!(encode_path("é"), "%C3%A9");
    }

    #[test]
    fn plain_bytes_are_those_path_encoding_keeps() {
        for b in 0..=u8::MAX {
            let text = char::from(b).to_string();
            let kept = utf8_percent_encode(&text, PATH).to_string() == text;
            assert_eq!(PLAIN[usize::from(b)], kept, "byte {b:#04x}");
        }
    }

    #[test]
    fn plain_paths_are_exactly_those_normalize_keeps() {
        let origin = "https://www.example.com";
        let normalized = |path: &str| {
            let url = format!("{origin}{path}");
            url_list::normalize(&url, &FILE_URL).ok() == Some(url)
        };
        for path in [
            "/",
            "/a/b.html",
            "/a%20b/%C3%A9.html",
            "/a+b&c=d~e!$,;'()*:@.html",
            "//x",
        ] {
            assert!(is_plain_path(path), "{path}");
            assert!(normalized(path), "{path}");
        }
        let parsed = [
            "/a/./b",
            "/a/../b",
            "/.",
            "/a/..",
            "/%2e/b",
            "/a/%2E%2e",
            "/a?b",
            "/a#b",
            "/a b",
            "/é",
            "/a%zz",
            "/a%2",
            "/a%",
            "/a\\b",
            "/a\"b",
            "/a|b",
            "/a[0]",
            "a",
            "",
        ];
        for path in parsed {
            assert!(!is_plain_path(path), "{path:?}");
        }
        // Random paths over characters the parser treats in every way: whenever the fast path
        // skips the parser, the parser would have returned the URL unchanged.
        const CHARS: &[&str] = &[
            "a", "Z", "0", "-", ".", "_", "~", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";",
            "=", ":", "@", "/", "/", "%", "%2e", "%2E", "%41", "%4", "?", "#", " ", "\\", "\"",
            "<", ">", "`", "{", "}", "|", "^", "[", "]", "\t", "\n", "é", "日", "..", "/./",
            "/../",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let (mut plain, mut total) = (0, 0);
        for _ in 0..20_000 {
            let mut path = String::from("/");
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for k in 0..(state % 12) {
                path.push_str(CHARS[((state >> (4 * k + 8)) as usize) % CHARS.len()]);
            }
            total += 1;
            if is_plain_path(&path) {
                plain += 1;
                assert!(normalized(&path), "{path:?}");
            }
        }
        assert!(
            plain > total / 20,
            "the generator must reach the fast path: {plain}"
        );
    }

    #[test]
    fn folder_globs_match_as_globset_does() {
        let paths = [
            "public",
            "public/",
            "public/a",
            "public/a/b.html",
            "public/.x",
            "public/\n",
            "publicx/a",
            "Public/a",
            "x/public/a",
            "_site/blog/a",
            "_site/blog",
            "a b/c",
            "é/x",
            "a,b/x",
        ];
        for glob in ["public/**", "_site/blog/**", "a b/**", "é/**", "a,b/**"] {
            let Ok(Matcher::Under(_)) = compile_glob(glob) else {
                panic!("{glob} is not matched as a prefix");
            };
            let globset = GlobBuilder::new(glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .unwrap()
                .compile_matcher();
            let ours = compile_glob(glob).unwrap();
            for path in paths {
                assert_eq!(
                    ours.is_match(path),
                    globset.is_match(path),
                    "{glob} on {path:?}"
                );
            }
        }
        for glob in [
            "**",
            "public/**/*.html",
            "public/*",
            "pub*/**",
            "a\\[b/**",
            "{a,b}/**",
        ] {
            assert!(matches!(compile_glob(glob), Ok(Matcher::Glob(_))), "{glob}");
        }
    }

    #[test]
    fn the_origin_is_plain_only_when_normalize_keeps_it() {
        let origin = |t: &str| plain_origin(&Template::parse(t).unwrap().pieces);
        assert_eq!(origin("https://www.example.com/{path}"), 23);
        assert_eq!(origin("http://a.com:8080/x/{path}"), 17);
        assert_eq!(origin("https://WWW.example.com/{path}"), 0);
        assert_eq!(origin("https://a.com:443/{path}"), 0);
        assert_eq!(origin("https://bücher.example/{path}"), 0);
    }

    #[test]
    fn templates_split_at_separating_commas_only() {
        assert_eq!(
            split_templates("https://a.com/{path}, https://b.com/{path}"),
            ["https://a.com/{path}", "https://b.com/{path}"]
        );
        assert_eq!(
            split_templates("https://a.com/{path},https://b.com/{path}"),
            ["https://a.com/{path}", "https://b.com/{path}"]
        );
        assert_eq!(
            split_templates("https://a.com/x,y/{path}"),
            ["https://a.com/x,y/{path}"]
        );
        assert_eq!(
            split_templates("https://a.com/{path},"),
            ["https://a.com/{path}", ""]
        );
    }

    #[test]
    fn roots_stop_at_the_first_token_and_end_with_a_slash() {
        let root = |t: &str| template_root(t).unwrap();
        assert_eq!(root("https://A.com/{path}"), "https://a.com/");
        assert_eq!(root("https://a.com/docs/{path}"), "https://a.com/docs/");
        assert_eq!(
            root("https://a.com/docs/v-{stem}.html"),
            "https://a.com/docs/"
        );
        assert_eq!(root("https://a.com/feed.xml"), "https://a.com/");
        assert_eq!(root("https://a.com"), "https://a.com/");
        assert_eq!(root("https://a.com/a?v={stem}"), "https://a.com/");
    }
}
