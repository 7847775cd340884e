//! What a Regex refresh task covers at the emulated edge. `ObjectPath` is
//! `[http[s]://]host/PATTERN`: the host is literal, and PATTERN must match the whole of a
//! cached URL's path (percent-decoded, from its `/`, with `?query` when there is one), as
//! in `http://example.com/img/.*\.jpg`.
//!
//! The matcher is a small backtracking one (no regex engine among the dependencies): literals,
//! `.`, classes (`[a-z]`, `[^/]`, `\d`, `\w`, `\s` and their negations), groups `(…)`,
//! `(?:…)`, alternation `|`, quantifiers `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (a lazy `?`
//! after one changes nothing for a whole match), and `^`/`$`. Patterns are hostile input: a
//! match runs at most [`MAX_STEPS`] steps, over at most [`MAX_SUBJECT`] characters, and a
//! pattern it cannot parse covers nothing; each of these answers "not covered", which
//! leaves the edge stale, never kinder than the service.

use std::cell::Cell;

use crate::emulator::edge::Scope;

const MAX_STEPS: u32 = 200_000;
const MAX_SUBJECT: usize = 512;
const MAX_PATTERN: usize = 1024;
const MAX_REPEAT: u32 = 1000;

/// The scope of one Regex object path (scheme optional).
pub(crate) fn scope(object_path: &str) -> Option<Scope> {
    let rest = match object_path.find("://") {
        Some(i) => &object_path[i + 3..],
        None => object_path,
    };
    let (authority, pattern) = rest.split_at(rest.find('/')?);
    let host = crate::emulator::edge::host_of(authority)?;
    let regex = Regex::parse(pattern)?;
    Some(Scope::matching(&host, move |subject| regex.is_match(subject)))
}

#[derive(Debug)]
enum Node {
    Char(char),
    Any,
    Class { ranges: Vec<(char, char)>, negated: bool },
    Group(Vec<Vec<Node>>),
    Repeat { node: Box<Node>, min: u32, max: Option<u32> },
    Start,
    End,
}

pub(crate) struct Regex(Node);

struct Parser<'p> {
    chars: std::iter::Peekable<std::str::Chars<'p>>,
    depth: u32,
}

impl Regex {
    pub(crate) fn parse(pattern: &str) -> Option<Regex> {
        if pattern.len() > MAX_PATTERN {
            return None;
        }
        let mut p = Parser {
            chars: pattern.chars().peekable(),
            depth: 0,
        };
        let node = p.alternation()?;
        p.chars.peek().is_none().then_some(Regex(node))
    }

    /// Whether the pattern matches the whole of `subject`.
    pub(crate) fn is_match(&self, subject: &str) -> bool {
        if subject.chars().count() > MAX_SUBJECT {
            return false;
        }
        let m = Matcher {
            s: subject.chars().collect(),
            steps: Cell::new(0),
        };
        let len = m.s.len();
        m.node(&self.0, 0, &mut |end| end == len)
    }
}

impl Parser<'_> {
    fn alternation(&mut self) -> Option<Node> {
        self.depth += 1;
        if self.depth > 50 {
            return None;
        }
        let mut alternatives = vec![self.sequence()?];
        while self.chars.next_if_eq(&'|').is_some() {
            alternatives.push(self.sequence()?);
        }
        self.depth -= 1;
        Some(Node::Group(alternatives))
    }

    fn sequence(&mut self) -> Option<Vec<Node>> {
        let mut nodes = Vec::new();
        while let Some(&c) = self.chars.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            nodes.push(self.quantified(atom)?);
        }
        Some(nodes)
    }

    fn atom(&mut self) -> Option<Node> {
        Some(match self.chars.next()? {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '(' => {
                if self.chars.next_if_eq(&'?').is_some() && self.chars.next() != Some(':') {
                    return None;
                }
                let inner = self.alternation()?;
                self.chars.next_if_eq(&')')?;
                inner
            }
            '[' => self.class()?,
            '\\' => escape(self.chars.next()?),
            '*' | '+' | '?' | '{' | ')' => return None,
            c => Node::Char(c),
        })
    }

    fn class(&mut self) -> Option<Node> {
        let negated = self.chars.next_if_eq(&'^').is_some();
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.chars.next()?;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '\\' {
                match escape(self.chars.next()?) {
                    Node::Char(c) => c,
                    Node::Class {
                        ranges: r,
                        negated: false,
                    } => {
                        ranges.extend(r);
                        continue;
                    }
                    _ => return None,
                }
            } else {
                c
            };
            if self.chars.peek() == Some(&'-') {
                self.chars.next();
                match self.chars.peek() {
                    Some(']') => {
                        ranges.push((lo, lo));
                        ranges.push(('-', '-'));
                    }
                    _ => {
                        let hi = match self.chars.next()? {
                            '\\' => self.chars.next()?,
                            c => c,
                        };
                        if hi < lo {
                            return None;
                        }
                        ranges.push((lo, hi));
                    }
                }
            } else {
                ranges.push((lo, lo));
            }
        }
        Some(Node::Class { ranges, negated })
    }

    fn quantified(&mut self, atom: Node) -> Option<Node> {
        let (min, max) = match self.chars.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                self.chars.next();
                let mut text = String::new();
                loop {
                    match self.chars.next()? {
                        '}' => break,
                        c => text.push(c),
                    }
                }
                let (min, max) = match text.split_once(',') {
                    None => {
                        let n = text.parse().ok()?;
                        (n, Some(n))
                    }
                    Some((lo, "")) => (lo.parse().ok()?, None),
                    Some((lo, hi)) => (lo.parse().ok()?, Some(hi.parse().ok()?)),
                };
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
                    return None;
                }
                self.chars.next_if_eq(&'?');
                return Some(Node::Repeat {
                    node: Box::new(atom),
                    min,
                    max,
                });
            }
            _ => return Some(atom),
        };
        self.chars.next();
        self.chars.next_if_eq(&'?');
        Some(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
        })
    }
}

fn escape(c: char) -> Node {
    let class = |ranges: &[(char, char)], negated| Node::Class {
        ranges: ranges.to_vec(),
        negated,
    };
    const DIGIT: &[(char, char)] = &[('0', '9')];
    const WORD: &[(char, char)] = &[('0', '9'), ('a', 'z'), ('A', 'Z'), ('_', '_')];
    const SPACE: &[(char, char)] = &[(' ', ' '), ('\t', '\r')];
    match c {
        'd' => class(DIGIT, false),
        'D' => class(DIGIT, true),
        'w' => class(WORD, false),
        'W' => class(WORD, true),
        's' => class(SPACE, false),
        'S' => class(SPACE, true),
        'n' => Node::Char('\n'),
        't' => Node::Char('\t'),
        c => Node::Char(c),
    }
}

struct Matcher {
    s: Vec<char>,
    steps: Cell<u32>,
}

impl Matcher {
    fn node(&self, node: &Node, at: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        let steps = self.steps.get() + 1;
        self.steps.set(steps);
        if steps > MAX_STEPS {
            return false;
        }
        let one = |ok: bool, k: &mut dyn FnMut(usize) -> bool| ok && k(at + 1);
        match node {
            Node::Char(c) => one(self.s.get(at) == Some(c), k),
            Node::Any => one(at < self.s.len(), k),
            Node::Class { ranges, negated } => one(
                self.s
                    .get(at)
                    .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated),
                k,
            ),
            Node::Start => at == 0 && k(at),
            Node::End => at == self.s.len() && k(at),
            Node::Group(alternatives) => alternatives.iter().any(|seq| self.seq(seq, at, k)),
            Node::Repeat { node, min, max } => self.repeat(node, *min, *max, 0, at, k),
        }
    }

    fn seq(&self, seq: &[Node], at: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match seq.split_first() {
            None => k(at),
            Some((first, rest)) => self.node(first, at, &mut |next| self.seq(rest, next, k)),
        }
    }

    fn repeat(
        &self,
        node: &Node,
        min: u32,
        max: Option<u32>,
        count: u32,
        at: usize,
        k: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        if max.is_none_or(|m| count < m)
            && self.node(node, at, &mut |next| {
                // An empty iteration past the minimum would loop forever.
                (next != at || count < min) && self.repeat(node, min, max, count + 1, next, k)
            })
        {
            return true;
        }
        count >= min && k(at)
    }
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn m(pattern: &str, subject: &str) -> bool {
        Regex::parse(pattern).expect(pattern).is_match(subject)
    }

    #[test]
    fn whole_matches() {
        assert!(m(r"/img/.*\.jpg", "/img/a/b.jpg"));
        assert!(!m(r"/img/.*\.jpg", "/img/a.jpg.png"));
        assert!(!m(r"/img/.*\.jpg", "/x/img/a.jpg"));
        assert!(m(r"/(a|bc)+/[^/]*\.(?:js|css)", "/abca/x.css"));
        assert!(m(r"/v\d{2,3}/\w+", "/v123/ab_c"));
        assert!(!m(r"/v\d{2,3}/\w+", "/v1/abc"));
        assert!(m(r"^/a?b*$", "/"));
        assert!(m(r"/[a-c-]+", "/a-c"));
        assert!(m(r"/(x*)*y", "/xxy"));
    }

    #[test]
    fn hostile_patterns_cover_nothing_and_end() {
        for bad in ["(", "[a", "*", "a{2,1}", "a{5000}", "(?=x)"] {
            assert!(Regex::parse(bad).is_none(), "{bad}");
        }
        // Catastrophic backtracking stops at the step budget: not covered.
        let subject = format!("/{}!", "a".repeat(40));
        assert!(!m("/(a*)*b", &subject));
    }
}
