//! Splits one configuration line into words with HAProxy's quoting rules
//! (configuration.txt 2.2 "Quoting and escaping", 2.3 "Environment variables";
//! `parse_line()` in HAProxy's src/tools.c is the authority for the corner cases):
//!
//! - words are separated by blanks; an unquoted `#` starts a comment; CR or LF ends the line;
//! - `'...'` is a strong quote: nothing inside is interpreted;
//! - `"..."` is a weak quote: blanks, `#` and `'` lose their meaning, and `$NAME`,
//!   `${NAME}`, `${NAME-default}` and `${NAME[*]}` (one word per blank-separated part of
//!   the value) are replaced by the environment variable. An undefined variable becomes the
//!   empty string, as in HAProxy (reported so the caller can warn). A `$` followed by
//!   anything but a letter, `_` or `.` is an error, as in HAProxy. `$.LINE`, `$.FILE` and
//!   `$.SECTION` are asked to the lookup function like any other name;
//! - outside strong quotes a backslash escapes: `\ `, `\#`, `\\`, `\'`, `\"` give the
//!   character, `\r`, `\n`, `\t` the control character, `\xHH` the byte; `\$` gives `$`
//!   inside weak quotes; any other backslash is kept as it is (`\1` stays `\1`);
//! - an empty last word (`maxconn ""`) is dropped, like HAProxy does.
//!
//! Pure and bounded: the output never exceeds [`LINE_WORDS_MAX`] words, and the words
//! hold at most [`EXPANDED_LINE_BYTES_MAX`] bytes.

/// HAProxy's `MAX_LINE_ARGS`: a line with more words is rejected, as HAProxy does.
pub const LINE_WORDS_MAX: usize = 64;
/// Bound on a line after environment expansion, so a variable repeated many times
/// cannot blow up memory.
pub const EXPANDED_LINE_BYTES_MAX: usize = 1 << 20;

/// The words of one line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// The words after unquoting and expansion; empty for a blank or comment line.
    pub words: Vec<String>,
    /// Variables that were referenced but undefined (expanded to "").
    pub undefined_vars: Vec<String>,
}

/// Why a line could not be split. Positions are 1-based byte offsets, as HAProxy prints them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    /// A quote was opened and not closed before the end of the line.
    #[error("unmatched quote at position {0}")]
    UnmatchedQuote(usize),
    /// `\x` not followed by two hex digits.
    #[error("truncated or invalid hexadecimal sequence at position {0}")]
    BadHex(usize),
    /// `${` without its `}`.
    #[error("unmatched brace in environment variable name at position {0}")]
    UnmatchedBrace(usize),
    /// `$` followed by a character that cannot start a variable name (inside double quotes).
    #[error("forbidden first char in environment variable name at position {0}")]
    BadVarName(usize),
    /// `${NAME[` not followed by `*]`.
    #[error("truncated or invalid word expansion sequence at position {0}")]
    BadExpand(usize),
    /// More than [`LINE_WORDS_MAX`] words.
    #[error("too many words, truncating after word {max}")]
    TooManyWords {
        /// The limit.
        max: usize,
    },
    /// The expansion of environment variables made the line too long.
    #[error("line too long after environment expansion (max {max} bytes)")]
    TooLong {
        /// The limit.
        max: usize,
    },
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// C's `isspace` without the line ends, which end the line before we get here.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c)
}

/// Words being built: the last one is open.
struct Words {
    done: Vec<Vec<u8>>,
    cur: Vec<u8>,
    total: usize,
}

impl Words {
    fn push_byte(&mut self, c: u8) -> Result<(), LexError> {
        self.total += 1;
        if self.total > EXPANDED_LINE_BYTES_MAX {
            return Err(LexError::TooLong {
                max: EXPANDED_LINE_BYTES_MAX,
            });
        }
        self.cur.push(c);
        Ok(())
    }

    /// Closes the current word and opens a new (empty) one.
    fn next(&mut self) -> Result<(), LexError> {
        if self.done.len() + 1 >= LINE_WORDS_MAX {
            return Err(LexError::TooManyWords { max: LINE_WORDS_MAX });
        }
        self.done.push(std::mem::take(&mut self.cur));
        Ok(())
    }
}

/// Splits `line` (without its newline) into words. `env` looks up a variable.
pub fn split_line(line: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Line, LexError> {
    let b = line.as_bytes();
    let mut undefined = Vec::new();
    let mut w = Words {
        done: Vec::new(),
        cur: Vec::new(),
        total: 0,
    };
    let mut squote = false;
    let mut dquote = false;
    let mut quote_pos = 0;
    // HAProxy's reader skips leading blanks before splitting.
    let mut i = b.iter().take_while(|&&c| is_blank(c)).count();
    while let Some(&c) = b.get(i) {
        match c {
            b'\r' | b'\n' | 0 => break,
            b'#' if !squote && !dquote => break,
            b'"' if !squote => {
                dquote = !dquote;
                quote_pos = i;
                i += 1;
            }
            b'\'' if !dquote => {
                squote = !squote;
                quote_pos = i;
                i += 1;
            }
            b'\\' if !squote => {
                let (out, used) = match b.get(i + 1).copied() {
                    Some(n @ (b' ' | b'\\' | b'#' | b'\'' | b'"')) => (n, 2),
                    Some(b't') => (b'\t', 2),
                    Some(b'n') => (b'\n', 2),
                    Some(b'r') => (b'\r', 2),
                    Some(b'$') if dquote => (b'$', 2),
                    Some(b'x') => {
                        let h = b.get(i + 2).copied().and_then(hex);
                        let l = b.get(i + 3).copied().and_then(hex);
                        match (h, l) {
                            (Some(h), Some(l)) => (h << 4 | l, 4),
                            _ => return Err(LexError::BadHex(i + 1)),
                        }
                    }
                    _ => (b'\\', 1),
                };
                w.push_byte(out)?;
                i += used;
            }
            c if is_blank(c) && !squote && !dquote => {
                while b.get(i).copied().is_some_and(is_blank) {
                    i += 1;
                }
                w.next()?;
            }
            b'$' if dquote => {
                i = expand_var(b, i, env, &mut w, &mut undefined)?;
            }
            _ => {
                w.push_byte(c)?;
                i += 1;
            }
        }
    }
    if squote || dquote {
        return Err(LexError::UnmatchedQuote(quote_pos + 1));
    }
    // The last word is dropped when empty (trailing blanks, `""`, empty expansion).
    if !w.cur.is_empty() {
        w.done.push(std::mem::take(&mut w.cur));
    }
    debug_assert!(w.done.len() <= LINE_WORDS_MAX);
    debug_assert!(w.total <= EXPANDED_LINE_BYTES_MAX);
    let words = w
        .done
        .iter()
        .map(|x| String::from_utf8_lossy(x).into_owned())
        .collect();
    Ok(Line {
        words,
        undefined_vars: undefined,
    })
}

/// Expands the variable starting at `b[i] == '$'`; returns the index after it.
fn expand_var(
    b: &[u8],
    i: usize,
    env: &dyn Fn(&str) -> Option<String>,
    w: &mut Words,
    undefined: &mut Vec<String>,
) -> Result<usize, LexError> {
    let braced = b.get(i + 1) == Some(&b'{');
    let start = if braced { i + 2 } else { i + 1 };
    let first = b.get(start).copied().unwrap_or(0);
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'.') {
        return Err(LexError::BadVarName(start + 1));
    }
    let mut end = start + usize::from(first == b'.');
    while b
        .get(end)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        end += 1;
    }
    let name = String::from_utf8_lossy(b.get(start..end).unwrap_or_default()).into_owned();
    let mut value = env(&name);
    if value.is_none() && name.starts_with('.') {
        return Err(LexError::BadVarName(start + 1));
    }
    let mut j = end;
    let mut expand_words = false;
    if braced && b.get(j) == Some(&b'[') {
        if b.get(j + 1) != Some(&b'*') || b.get(j + 2) != Some(&b']') {
            return Err(LexError::BadExpand(j + 1));
        }
        expand_words = true;
        j += 3;
    }
    if braced {
        if b.get(j) == Some(&b'-') {
            let ds = j + 1;
            while b.get(j).is_some_and(|&c| c != b'}') {
                j += 1;
            }
            if value.is_none() {
                value = Some(String::from_utf8_lossy(b.get(ds..j).unwrap_or_default()).into_owned());
            }
        }
        if b.get(j) != Some(&b'}') {
            return Err(LexError::UnmatchedBrace(i + 2));
        }
        j += 1;
    }
    let value = match value {
        Some(v) => v,
        None => {
            undefined.push(name);
            String::new()
        }
    };
    let vb = value.as_bytes();
    let mut k = 0;
    while let Some(&c) = vb.get(k) {
        if expand_words && is_blank(c) {
            w.next()?;
            while vb.get(k).copied().is_some_and(is_blank) {
                k += 1;
            }
            continue;
        }
        w.push_byte(c)?;
        k += 1;
    }
    Ok(j)
}

/// Expands `$NAME` and `${NAME}` anywhere in an unquoted address word, as HAProxy's
/// `str2sa_range` does. Undefined variables become "" and are reported; a `$` that does
/// not start a variable name is kept.
pub fn expand_unquoted(
    word: &str,
    env: &dyn Fn(&str) -> Option<String>,
    undefined: &mut Vec<String>,
) -> String {
    if !word.contains('$') {
        return word.to_string();
    }
    let b = word.as_bytes();
    let mut w = Words {
        done: Vec::new(),
        cur: Vec::with_capacity(b.len()),
        total: 0,
    };
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'$' {
            if let Ok(n) = expand_var(b, i, env, &mut w, undefined) {
                i = n;
                continue;
            }
        }
        if w.push_byte(c).is_err() {
            break;
        }
        i += 1;
    }
    String::from_utf8_lossy(&w.cur).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8080".into()),
            ".LINE" => Some("7".into()),
            "SP" => Some("a b".into()),
            _ => None,
        }
    }

    fn words(s: &str) -> Result<Vec<String>, LexError> {
        split_line(s, &env).map(|l| l.words)
    }

    #[test]
    fn accepted_lines() {
        let table: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   # only a comment", &[]),
            ("bind :80", &["bind", ":80"]),
            ("  bind\t:80  # comment", &["bind", ":80"]),
            ("log-format %{+Q}o\\ %t\\ %s", &["log-format", "%{+Q}o %t %s"]),
            ("log-format \"%{+Q}o %t %s\"", &["log-format", "%{+Q}o %t %s"]),
            ("log-format '%{+Q}o %t %s'", &["log-format", "%{+Q}o %t %s"]),
            (
                "log-format \"%{+Q}o %t\"' %s'\\ %r",
                &["log-format", "%{+Q}o %t %s %r"],
            ),
            ("a \"127.0.0.1:${PORT}\"", &["a", "127.0.0.1:8080"]),
            ("a \"$PORT\"x", &["a", "8080x"]),
            ("a '$PORT'", &["a", "$PORT"]),
            ("a $PORT", &["a", "$PORT"]),
            ("a \"${SP}\"", &["a", "a b"]),
            ("a \"${NOPE-dflt}\"", &["a", "dflt"]),
            ("a \"\\$PORT\"", &["a", "$PORT"]),
            ("a \\#b", &["a", "#b"]),
            ("a b#c", &["a", "b"]),
            ("a \"b#c\"", &["a", "b#c"]),
            ("a \\x41\\x42", &["a", "AB"]),
            ("a \\1\\2", &["a", "\\1\\2"]),
            ("a \"\"", &["a"]),
            ("a \"\" b", &["a", "", "b"]),
            ("a \"${NOPE}\"", &["a"]),
            ("a \"${SP[*]}\" c", &["a", "a", "b", "c"]),
            ("a \"$.LINE\"", &["a", "7"]),
            ("a b\rc", &["a", "b"]),
            ("\t  a\x0bb", &["a", "b"]),
            ("a \"it's\"", &["a", "it's"]),
            ("a 'say \"hi\"'", &["a", "say \"hi\""]),
            ("a $1 '$'", &["a", "$1", "$"]),
        ];
        for (line, want) in table {
            let got = words(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(got, *want, "line {line:?}");
        }
    }

    #[test]
    fn rejected_lines() {
        let table: &[(&str, LexError)] = &[
            ("a \"b", LexError::UnmatchedQuote(3)),
            ("a 'b", LexError::UnmatchedQuote(3)),
            ("a \\xZZ", LexError::BadHex(3)),
            ("a \\x4", LexError::BadHex(3)),
            ("a \"${PORT\"", LexError::UnmatchedBrace(5)),
            ("a \"$\"", LexError::BadVarName(5)),
            ("a \"^/x$\"", LexError::BadVarName(8)),
            ("a \"$.NOPE\"", LexError::BadVarName(5)),
            ("a \"${X[+]}\"", LexError::BadExpand(7)),
        ];
        for (line, want) in table {
            assert_eq!(words(line).as_ref(), Err(want), "line {line:?}");
        }
        let many = "w ".repeat(LINE_WORDS_MAX + 1);
        assert_eq!(words(&many), Err(LexError::TooManyWords { max: LINE_WORDS_MAX }));
    }

    #[test]
    fn undefined_variables_are_reported_and_empty() {
        let l = split_line("a \"x${NOPE}y\" \"$ALSO\"", &env).expect("splits");
        assert_eq!(l.words, vec!["a", "xy"]);
        assert_eq!(l.undefined_vars, vec!["NOPE", "ALSO"]);
    }

    #[test]
    fn unquoted_address_expansion() {
        let mut u = Vec::new();
        assert_eq!(expand_unquoted("${NOPE}:25", &env, &mut u), ":25");
        assert_eq!(expand_unquoted("$PORT", &env, &mut u), "8080");
        assert_eq!(u, vec!["NOPE"]);
    }
}
