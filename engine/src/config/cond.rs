//! ACLs, conditions (`if`/`unless`) and sample expressions (`hdr(host),lower,map(f)`).

/// Bound on the converters chained after one sample fetch.
pub const CONVERTERS_MAX: usize = 32;
/// Bound on the arguments of one fetch or converter.
pub const SAMPLE_ARGS_MAX: usize = 16;

/// A function call in a sample expression: `name` or `name(arg1,arg2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Fetch or converter name, e.g. `hdr`, `lower`, `map_beg`.
    pub name: String,
    /// Raw arguments (unquoted text between the commas).
    pub args: Vec<String>,
}

/// A sample expression: a fetch followed by converters, e.g. `hdr(host),lower`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The fetch, e.g. `path` or `hdr(host)`.
    pub fetch: Call,
    /// Converters applied in order.
    pub converters: Vec<Call>,
}

/// Splits `name(args)` at its start; returns the call and the rest after it.
fn parse_call(s: &str) -> Result<(Call, &str), String> {
    let name_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'+'))
        .count();
    if name_len == 0 {
        return Err(format!("missing fetch method or converter name in '{s}'"));
    }
    let (name, rest) = s.split_at(name_len);
    let mut args = Vec::new();
    let rest = if let Some(inner) = rest.strip_prefix('(') {
        // Arguments end at the matching ')', with nesting and backslash escapes.
        let mut depth = 0usize;
        let mut cur = String::new();
        let mut end = None;
        let mut chars = inner.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        cur.push(n);
                    }
                }
                '(' => {
                    depth += 1;
                    cur.push(c);
                }
                ')' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                ')' => {
                    depth -= 1;
                    cur.push(c);
                }
                ',' if depth == 0 => {
                    if args.len() >= SAMPLE_ARGS_MAX {
                        return Err(format!("too many arguments for '{name}' (max {SAMPLE_ARGS_MAX})"));
                    }
                    args.push(std::mem::take(&mut cur));
                }
                _ => cur.push(c),
            }
        }
        let end = end.ok_or_else(|| format!("missing closing ')' after arguments to '{name}'"))?;
        if !(args.is_empty() && cur.is_empty()) {
            args.push(cur);
        }
        inner.get(end + 1..).unwrap_or_default()
    } else {
        rest
    };
    Ok((
        Call {
            name: name.to_string(),
            args,
        },
        rest,
    ))
}

impl Sample {
    /// Parses `fetch[(args)][,conv[(args)]]...`.
    pub fn parse(s: &str) -> Result<Sample, String> {
        let (fetch, mut rest) = parse_call(s)?;
        let mut converters = Vec::new();
        while !rest.is_empty() {
            let Some(r) = rest.strip_prefix(',') else {
                return Err(format!("unexpected '{rest}' after sample fetch '{}'", fetch.name));
            };
            if converters.len() >= CONVERTERS_MAX {
                return Err(format!("too many converters (max {CONVERTERS_MAX})"));
            }
            let (c, r2) = parse_call(r)?;
            converters.push(c);
            rest = r2;
        }
        Ok(Sample { fetch, converters })
    }
}

/// One piece of a log-format-like string: literal text or `%[sample]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FmtPart {
    /// Text copied as is (including `%x` log variables, kept raw).
    Text(String),
    /// `%[...]` sample expression.
    Sample(Sample),
}

/// Parses a string that may hold `%[sample]` expressions (used by `use_backend`,
/// `set-header` values, `log-format`...). Other `%` sequences stay as text.
pub fn parse_format(s: &str) -> Result<Vec<FmtPart>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find("%[") {
        text.push_str(rest.get(..pos).unwrap_or_default());
        let after = rest.get(pos + 2..).unwrap_or_default();
        // Find the matching ']' (samples may contain brackets in regex args, rare).
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match c {
                '[' => depth += 1,
                ']' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                ']' => depth -= 1,
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("missing closing ']' in '{s}'"))?;
        if !text.is_empty() {
            parts.push(FmtPart::Text(std::mem::take(&mut text)));
        }
        parts.push(FmtPart::Sample(Sample::parse(
            after.get(..end).unwrap_or_default(),
        )?));
        rest = after.get(end + 1..).unwrap_or_default();
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(FmtPart::Text(text));
    }
    Ok(parts)
}

/// Pattern matching flags of an ACL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AclFlags {
    /// `-i`: case-insensitive.
    pub ignore_case: bool,
    /// `-m <method>`: explicit match method (`str`, `beg`, `end`, `sub`, `reg`, `dom`, `found`...).
    pub method: Option<String>,
    /// `-f <file>`: pattern files.
    pub files: Vec<String>,
    /// `-M`: files are maps.
    pub map_file: bool,
    /// `-n`: no DNS resolution.
    pub no_dns: bool,
    /// `-u <id>`: unique id.
    pub unique_id: Option<String>,
}

/// An ACL test: a criterion (fetch + implied match, e.g. `path_beg`) and patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclExpr {
    /// Criterion as a sample, e.g. `path_beg` or `hdr(host)` or `req.ssl_sni,lower`.
    pub criterion: Sample,
    /// Flags before the patterns.
    pub flags: AclFlags,
    /// Patterns (may be empty for boolean fetches).
    pub patterns: Vec<String>,
}

/// Parses `<criterion> [flags] [operator] <value>*` (the words after `acl <name>` or inside `{ }`).
pub fn parse_acl_expr(words: &[String]) -> Result<AclExpr, String> {
    let Some(first) = words.first() else {
        return Err("missing ACL criterion".to_string());
    };
    let criterion = Sample::parse(first)?;
    let mut flags = AclFlags::default();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-i" => flags.ignore_case = true,
            "-n" => flags.no_dns = true,
            "-M" => flags.map_file = true,
            "-m" | "-f" | "-u" => {
                let v = words
                    .get(i + 1)
                    .ok_or_else(|| format!("'{w}' expects an argument"))?;
                match w.as_str() {
                    "-m" => flags.method = Some(v.clone()),
                    "-f" => flags.files.push(v.clone()),
                    _ => flags.unique_id = Some(v.clone()),
                }
                i += 1;
            }
            "--" => {
                i += 1;
                break;
            }
            _ => break,
        }
        i += 1;
    }
    if let Some(m) = &flags.method {
        const METHODS: &[&str] = &[
            "found", "bool", "int", "ip", "bin", "len", "str", "sub", "reg", "beg", "end", "dir", "dom",
        ];
        if !METHODS.contains(&m.as_str()) {
            return Err(format!("unknown matching method '{m}'"));
        }
    }
    let patterns = words.get(i..).unwrap_or_default().to_vec();
    Ok(AclExpr {
        criterion,
        flags,
        patterns,
    })
}

/// `acl <name> <criterion> [flags] [operator] <value>*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// Name (several lines with one name OR their tests, as in HAProxy).
    pub name: String,
    /// The test.
    pub expr: AclExpr,
}

/// A reference to an ACL inside a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclRef {
    /// A named ACL (declared with `acl` in the same proxy, or predefined like `TRUE`).
    Named(String),
    /// An anonymous ACL `{ criterion patterns }`.
    Anonymous(AclExpr),
}

/// One term of a condition, possibly negated with `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondTerm {
    /// `!` before the ACL.
    pub negated: bool,
    /// The ACL tested.
    pub acl: AclRef,
}

/// `if`/`unless` condition: OR of AND-groups of terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// True for `unless`.
    pub unless: bool,
    /// Disjunction (`||`, `or`) of conjunctions; terms side by side are ANDed (implicit and).
    pub any_of: Vec<Vec<CondTerm>>,
}

/// ACLs HAProxy predefines (configuration.txt 7.4).
pub const PREDEFINED_ACLS: &[&str] = &[
    "FALSE",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_3.0",
    "HTTP_CONTENT",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "HTTP_URL_STAR",
    "LOCALHOST",
    "METH_CONNECT",
    "METH_DELETE",
    "METH_GET",
    "METH_HEAD",
    "METH_OPTIONS",
    "METH_POST",
    "METH_PUT",
    "METH_TRACE",
    "RDP_COOKIE",
    "REQ_CONTENT",
    "TRUE",
    "WAIT_END",
];

impl Condition {
    /// Parses the words starting at `if`/`unless`. `known` says whether a named ACL exists.
    pub fn parse(words: &[String], known: &dyn Fn(&str) -> bool) -> Result<Condition, String> {
        let unless = match words.first().map(String::as_str) {
            Some("if") => false,
            Some("unless") => true,
            _ => return Err("condition must start with 'if' or 'unless'".to_string()),
        };
        let mut any_of = vec![Vec::new()];
        let mut i = 1;
        while let Some(w) = words.get(i) {
            match w.as_str() {
                "||" | "or" => {
                    if any_of.last().is_some_and(Vec::is_empty) {
                        return Err(format!("missing ACL before '{w}'"));
                    }
                    any_of.push(Vec::new());
                    i += 1;
                    continue;
                }
                "&&" | "and" => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let (negated, rest) = match w.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, w.as_str()),
            };
            let (negated, rest, step_neg) = if negated && rest.is_empty() {
                // "! acl" with a space.
                match words.get(i + 1) {
                    Some(n) => (true, n.as_str(), 1),
                    None => return Err("missing ACL after '!'".to_string()),
                }
            } else {
                (negated, rest, 0)
            };
            i += step_neg;
            let acl = if rest == "{" {
                let start = i + 1;
                let len = words
                    .get(start..)
                    .unwrap_or_default()
                    .iter()
                    .position(|x| x == "}");
                let Some(len) = len else {
                    return Err("missing closing '}' in condition".to_string());
                };
                let inner = words.get(start..start + len).unwrap_or_default();
                i = start + len;
                AclRef::Anonymous(parse_acl_expr(inner)?)
            } else {
                if !known(rest) && !PREDEFINED_ACLS.contains(&rest) {
                    return Err(format!("no such ACL : '{rest}'"));
                }
                AclRef::Named(rest.to_string())
            };
            if let Some(g) = any_of.last_mut() {
                g.push(CondTerm { negated, acl });
            }
            i += 1;
        }
        if any_of.iter().any(Vec::is_empty) {
            return Err("missing ACL in condition".to_string());
        }
        Ok(Condition { unless, any_of })
    }
}

/// Splits `words` at the first `if`/`unless`: returns the words before and the condition.
pub fn split_condition<'a>(
    words: &'a [String],
    known: &dyn Fn(&str) -> bool,
) -> Result<(&'a [String], Option<Condition>), String> {
    match words.iter().position(|w| w == "if" || w == "unless") {
        Some(p) => {
            let (head, tail) = words.split_at(p);
            Ok((head, Some(Condition::parse(tail, known)?)))
        }
        None => Ok((words, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn samples() {
        let s = Sample::parse("hdr(host),lower,map_beg(/etc/x.map,be_default)").expect("parses");
        assert_eq!(
            s.fetch,
            Call {
                name: "hdr".into(),
                args: vec!["host".into()]
            }
        );
        assert_eq!(s.converters.len(), 2);
        assert_eq!(s.converters[1].args, vec!["/etc/x.map", "be_default"]);
        assert_eq!(
            Sample::parse("path").expect("parses").fetch.args,
            Vec::<String>::new()
        );
        for bad in ["", "hdr(host", "path,", "path x", "(x)"] {
            assert!(Sample::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        let p = parse_format("be_%[req.hdr(host),lower]").expect("parses");
        assert_eq!(p.len(), 2);
        assert!(matches!(&p[1], FmtPart::Sample(s) if s.fetch.name == "req.hdr"));
        assert!(parse_format("%[path").is_err());
        assert_eq!(
            parse_format("plain").expect("parses"),
            vec![FmtPart::Text("plain".into())]
        );
    }

    #[test]
    fn conditions() {
        let known = |n: &str| n == "a" || n == "b";
        let c = Condition::parse(&w("if a !b || { path_beg -i /x } or TRUE"), &known).expect("parses");
        assert!(!c.unless);
        assert_eq!(c.any_of.len(), 3);
        assert!(c.any_of[0][1].negated);
        match &c.any_of[1][0].acl {
            AclRef::Anonymous(e) => {
                assert!(e.flags.ignore_case);
                assert_eq!(e.patterns, vec!["/x"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Condition::parse(&w("unless a"), &known).expect("parses").unless);
        for bad in ["if", "if c", "if a ||", "if || a", "if { path", "when a", "if !"] {
            assert!(Condition::parse(&w(bad), &known).is_err(), "{bad}");
        }
    }

    #[test]
    fn acl_exprs() {
        let e = parse_acl_expr(&w("path -m beg -f /x.lst /a /b")).expect("parses");
        assert_eq!(e.flags.method.as_deref(), Some("beg"));
        assert_eq!(e.flags.files, vec!["/x.lst"]);
        assert_eq!(e.patterns, vec!["/a", "/b"]);
        assert!(parse_acl_expr(&w("path -m nope /a")).is_err());
        assert!(parse_acl_expr(&w("path -m")).is_err());
        assert!(parse_acl_expr(&[]).is_err());
    }
}
