//! Splits one configuration line into words with HAProxy's quoting rules
//! (configuration.txt 2.2 "Quoting and escaping", 2.3 "Environment variables").
//!
//! - words are separated by spaces and tabs; an unquoted `#` starts a comment;
//! - `'...'` is a strong quote: nothing inside is interpreted;
//! - `"..."` is a weak quote: spaces, `#` and `'` lose their meaning, and `$NAME`,
//!   `${NAME}` and `${NAME-default}` are replaced by the environment variable (an
//!   undefined variable becomes the empty string, as in HAProxy, with a warning);
//! - outside strong quotes a backslash escapes: `\ `, `\#`, `\\`, `\'`, `\"` give the
//!   character, `\r`, `\n`, `\t` the control character, `\xHH` the byte; `\$` gives `$`
//!   inside weak quotes; any other backslash is kept as it is (`\1` stays `\1`).
//!
//! Pure and bounded: the output never exceeds [`LINE_WORDS_MAX`] words, and each word
//! is at most the line plus the expansions, which are capped by [`EXPANDED_LINE_BYTES_MAX`].

/// HAProxy's `MAX_LINE_ARGS`: a line with more words is rejected, as HAProxy does.
pub const LINE_WORDS_MAX: usize = 64;
/// Bound on a line after environment expansion, so a variable repeated many times
/// cannot blow up memory.
pub const EXPANDED_LINE_BYTES_MAX: usize = 1 << 20;

/// The words of one line, or why it could not be split.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// The words after unquoting and expansion; empty for a blank or comment line.
    pub words: Vec<String>,
    /// Variables that were referenced but undefined (expanded to "").
    pub undefined_vars: Vec<String>,
}

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    /// A quote was opened and not closed before the end of the line.
    #[error("unmatched quote at position {0}")]
    UnmatchedQuote(usize),
    /// `\x` not followed by two hex digits.
    #[error("truncated or invalid hexadecimal sequence at position {0}")]
    BadHex(usize),
    /// `${` without its `}`.
    #[error("unterminated variable name at position {0}")]
    UnterminatedVar(usize),
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

fn is_var_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_var_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `line` (without its newline) into words. `env` looks up a variable.
pub fn split_line(line: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Line, LexError> {
    let b = line.as_bytes();
    let mut out = Line::default();
    // Bytes of the word being built (may hold arbitrary bytes from \xHH).
    let mut cur: Vec<u8> = Vec::new();
    let mut in_word = false;
    let mut quote: Option<u8> = None;
    let mut quote_pos = 0;
    let mut total = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if quote == Some(b'\'') {
            if c == b'\'' {
                quote = None;
            } else {
                cur.push(c);
            }
            i += 1;
            continue;
        }
        if quote.is_none() && (c == b' ' || c == b'\t' || c == b'\r') {
            if in_word {
                push_word(&mut out, &mut cur, &mut total)?;
                in_word = false;
            }
            i += 1;
            continue;
        }
        if quote.is_none() && c == b'#' {
            break;
        }
        in_word = true;
        match c {
            b'\'' if quote.is_none() => {
                quote = Some(b'\'');
                quote_pos = i;
                i += 1;
            }
            b'"' => {
                if quote == Some(b'"') {
                    quote = None;
                } else {
                    quote = Some(b'"');
                    quote_pos = i;
                }
                i += 1;
            }
            b'\\' => {
                let next = b.get(i + 1).copied();
                match next {
                    Some(n @ (b' ' | b'#' | b'\\' | b'\'' | b'"')) => {
                        cur.push(n);
                        i += 2;
                    }
                    Some(b'r') => {
                        cur.push(b'\r');
                        i += 2;
                    }
                    Some(b'n') => {
                        cur.push(b'\n');
                        i += 2;
                    }
                    Some(b't') => {
                        cur.push(b'\t');
                        i += 2;
                    }
                    Some(b'$') if quote == Some(b'"') => {
                        cur.push(b'$');
                        i += 2;
                    }
                    Some(b'x') => {
                        let h = b.get(i + 2).copied().and_then(hex);
                        let l = b.get(i + 3).copied().and_then(hex);
                        match (h, l) {
                            (Some(h), Some(l)) => {
                                cur.push(h << 4 | l);
                                i += 4;
                            }
                            _ => return Err(LexError::BadHex(i)),
                        }
                    }
                    _ => {
                        cur.push(b'\\');
                        i += 1;
                    }
                }
            }
            b'$' if quote == Some(b'"') => {
                i = expand_var(b, i, env, &mut cur, &mut out.undefined_vars, &mut total)?;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    if quote.is_some() {
        return Err(LexError::UnmatchedQuote(quote_pos));
    }
    if in_word {
        push_word(&mut out, &mut cur, &mut total)?;
    }
    Ok(out)
}

fn push_word(out: &mut Line, cur: &mut Vec<u8>, total: &mut usize) -> Result<(), LexError> {
    if out.words.len() >= LINE_WORDS_MAX {
        return Err(LexError::TooManyWords {
            max: LINE_WORDS_MAX,
        });
    }
    *total = total.saturating_add(cur.len());
    if *total > EXPANDED_LINE_BYTES_MAX {
        return Err(LexError::TooLong {
            max: EXPANDED_LINE_BYTES_MAX,
        });
    }
    out.words.push(String::from_utf8_lossy(cur).into_owned());
    cur.clear();
    Ok(())
}

/// Expands the variable starting at `b[i] == '$'`; returns the index after it.
fn expand_var(
    b: &[u8],
    i: usize,
    env: &dyn Fn(&str) -> Option<String>,
    cur: &mut Vec<u8>,
    undefined: &mut Vec<String>,
    total: &mut usize,
) -> Result<usize, LexError> {
    let braced = b.get(i + 1) == Some(&b'{');
    let start = if braced { i + 2 } else { i + 1 };
    if !b.get(start).copied().is_some_and(is_var_start) {
        // Not a variable reference: a literal dollar.
        cur.push(b'$');
        return Ok(i + 1);
    }
    let mut end = start;
    while b.get(end).copied().is_some_and(is_var_char) {
        end += 1;
    }
    let name = String::from_utf8_lossy(b.get(start..end).unwrap_or_default()).into_owned();
    let mut default: Option<String> = None;
    let next = if braced {
        let mut j = end;
        if b.get(j) == Some(&b'-') {
            let ds = j + 1;
            while b.get(j).is_some_and(|&c| c != b'}') {
                j += 1;
            }
            default = Some(String::from_utf8_lossy(b.get(ds..j).unwrap_or_default()).into_owned());
        }
        if b.get(j) != Some(&b'}') {
            return Err(LexError::UnterminatedVar(i));
        }
        j + 1
    } else {
        end
    };
    let value = match env(&name) {
        Some(v) => v,
        None => match default {
            Some(d) => d,
            None => {
                undefined.push(name);
                String::new()
            }
        },
    };
    *total = total.saturating_add(value.len());
    if *total > EXPANDED_LINE_BYTES_MAX {
        return Err(LexError::TooLong {
            max: EXPANDED_LINE_BYTES_MAX,
        });
    }
    cur.extend_from_slice(value.as_bytes());
    Ok(next)
}

/// Expands `$NAME` and `${NAME}` anywhere in an unquoted address word, as HAProxy's
/// `str2sa_range` does. Undefined variables become "" and are reported.
pub fn expand_unquoted(
    word: &str,
    env: &dyn Fn(&str) -> Option<String>,
    undefined: &mut Vec<String>,
) -> String {
    if !word.contains('$') {
        return word.to_string();
    }
    let b = word.as_bytes();
    let mut cur = Vec::with_capacity(b.len());
    let mut total = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            match expand_var(b, i, env, &mut cur, undefined, &mut total) {
                Ok(n) => i = n,
                Err(_) => {
                    cur.extend_from_slice(b.get(i..).unwrap_or_default());
                    break;
                }
            }
        } else {
            cur.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&cur).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8080".into()),
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
            (
                "log-format %{+Q}o\\ %t\\ %s",
                &["log-format", "%{+Q}o %t %s"],
            ),
            (
                "log-format \"%{+Q}o %t %s\"",
                &["log-format", "%{+Q}o %t %s"],
            ),
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
            ("a \"\"", &["a", ""]),
            ("a \"it's\"", &["a", "it's"]),
            ("a 'say \"hi\"'", &["a", "say \"hi\""]),
            ("a \"$\"", &["a", "$"]),
        ];
        for (line, want) in table {
            let got = words(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(got, *want, "line {line:?}");
        }
    }

    #[test]
    fn rejected_lines() {
        let table: &[(&str, LexError)] = &[
            ("a \"b", LexError::UnmatchedQuote(2)),
            ("a 'b", LexError::UnmatchedQuote(2)),
            ("a \\xZZ", LexError::BadHex(2)),
            ("a \\x4", LexError::BadHex(2)),
            ("a \"${PORT\"", LexError::UnterminatedVar(3)),
        ];
        for (line, want) in table {
            assert_eq!(words(line).as_ref(), Err(want), "line {line:?}");
        }
        let many = "w ".repeat(LINE_WORDS_MAX + 1);
        assert_eq!(
            words(&many),
            Err(LexError::TooManyWords {
                max: LINE_WORDS_MAX
            })
        );
    }

    #[test]
    fn undefined_variables_are_reported_and_empty() {
        let l = split_line("a \"x${NOPE}y\" \"$ALSO\"", &env).expect("splits");
        assert_eq!(l.words, vec!["a", "xy", ""]);
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
