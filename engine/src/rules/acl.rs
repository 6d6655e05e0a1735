//! Named and anonymous ACLs and `if`/`unless` conditions, compiled.

use std::collections::HashMap;

use crate::config::cond::{parse_acl_expr, Acl, AclExpr, AclRef, Condition, Sample};

use super::pattern::{Method, Patterns};
use super::sample::{Bufs, CSample, Ctx, Natural};
use super::{Compiler, RulesError};

/// One ACL test: a sample and the patterns it is matched against.
#[derive(Debug)]
struct Test {
    sample: CSample,
    patterns: Patterns,
}

impl Test {
    fn eval(&self, ctx: &Ctx<'_>, bufs: &mut Bufs) -> bool {
        self.sample.each(ctx, bufs, &mut |v| self.patterns.matches(v))
    }
}

/// HAProxy's predefined ACLs (configuration.txt 7.4) as the tests they stand for.
fn predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "TRUE" => "always_true",
        "FALSE" => "always_false",
        "HTTP" => "req.proto_http",
        "HTTP_1.0" => "req.ver 1.0",
        "HTTP_1.1" => "req.ver 1.1",
        "HTTP_2.0" => "req.ver 2.0",
        "HTTP_3.0" => "req.ver 3.0",
        "HTTP_CONTENT" => "hdr_val(content-length) gt 0",
        "HTTP_URL_ABS" => "url_reg ^[^/:]*://",
        "HTTP_URL_SLASH" => "url_beg /",
        "HTTP_URL_STAR" => "url *",
        "LOCALHOST" => "src 127.0.0.1/8 ::1",
        "METH_CONNECT" => "method CONNECT",
        "METH_DELETE" => "method DELETE",
        "METH_GET" => "method GET HEAD",
        "METH_HEAD" => "method HEAD",
        "METH_OPTIONS" => "method OPTIONS",
        "METH_POST" => "method POST",
        "METH_PUT" => "method PUT",
        "METH_TRACE" => "method TRACE",
        // No RDP in HTTP mode, and the head is complete before the rules run.
        "RDP_COOKIE" => "always_false",
        "REQ_CONTENT" => "always_false",
        "WAIT_END" => "always_true",
        _ => return None,
    })
}

/// Suffixes of ACL criteria that select a match method (`path_beg`, `hdr_dom(host)`).
const SUFFIXES: &[(&str, Method)] = &[
    ("_beg", Method::Beg),
    ("_end", Method::End),
    ("_sub", Method::Sub),
    ("_reg", Method::Reg),
    ("_dir", Method::Dir),
    ("_dom", Method::Dom),
    ("_len", Method::Len),
    ("_ip", Method::Ip),
    ("_val", Method::Int),
    ("_str", Method::Str),
    ("_found", Method::Found),
];

/// Fetches that accept a suffix (others, like `dst_port` or `hdr_cnt`, are names).
const SUFFIXED: &[&str] = &[
    "path",
    "url",
    "base",
    "hdr",
    "req.hdr",
    "fhdr",
    "req.fhdr",
    "shdr",
    "res.hdr",
    "res.fhdr",
    "urlp",
    "url_param",
    "cook",
    "req.cook",
    "query",
    "method",
];

fn compile_test(e: &AclExpr, c: &mut Compiler<'_>) -> Result<Test, RulesError> {
    // Split `path_beg` into the fetch `path` and the method `beg`.
    let full = e.criterion.fetch.name.as_str();
    let mut fetch_name = full;
    let mut implied = None;
    for (suf, m) in SUFFIXES {
        if let Some(base) = full.strip_suffix(suf) {
            if SUFFIXED.contains(&base) {
                fetch_name = base;
                implied = Some(*m);
                break;
            }
        }
    }
    let s = Sample {
        fetch: crate::config::cond::Call {
            name: fetch_name.to_string(),
            args: e.criterion.fetch.args.clone(),
        },
        converters: e.criterion.converters.clone(),
    };
    let (sample, natural) = CSample::compile(&s, c)?;
    let method = match &e.flags.method {
        Some(m) => Method::from_name(m).ok_or_else(|| c.invalid(format!("unknown matching method '{m}'")))?,
        None => implied.unwrap_or(match natural {
            Natural::Str => Method::Str,
            Natural::Int => Method::Int,
            Natural::Ip => Method::Ip,
            Natural::Bool => Method::Bool,
        }),
    };
    if e.flags.map_file {
        c.warn("ACL flag '-M' is not supported by ringlb: files read as pattern lists".to_string());
    }
    let patterns = Patterns::compile(method, e.flags.ignore_case, &e.patterns, &e.flags.files, c)?;
    Ok(Test { sample, patterns })
}

/// A condition: OR of AND-groups of (negated?) ACL references.
#[derive(Debug)]
pub(crate) struct Cond {
    unless: bool,
    any_of: Vec<Vec<(bool, Ref)>>,
}

/// Which ACL a term tests.
#[derive(Debug)]
enum Ref {
    /// Index into the table's named ACLs.
    Named(usize),
    /// An anonymous `{ ... }` test.
    Anon(Box<Test>),
}

/// The ACLs of one proxy: each name maps to the tests OR'ed under it.
#[derive(Debug, Default)]
pub(crate) struct AclTable {
    named: Vec<Vec<Test>>,
    by_name: HashMap<String, usize>,
}

impl AclTable {
    pub(crate) fn compile(acls: &[Acl], c: &mut Compiler<'_>) -> Result<AclTable, RulesError> {
        let mut t = AclTable::default();
        for a in acls {
            let test = compile_test(&a.expr, c)?;
            match t.by_name.get(&a.name) {
                Some(&i) => {
                    if let Some(tests) = t.named.get_mut(i) {
                        tests.push(test);
                    }
                }
                None => {
                    t.by_name.insert(a.name.clone(), t.named.len());
                    t.named.push(vec![test]);
                }
            }
        }
        Ok(t)
    }

    /// Index of a named ACL, compiling a predefined one on first use.
    fn index(&mut self, name: &str, c: &mut Compiler<'_>) -> Result<usize, RulesError> {
        if let Some(&i) = self.by_name.get(name) {
            return Ok(i);
        }
        let Some(def) = predefined(name) else {
            return Err(c.invalid(format!("no such ACL : '{name}'")));
        };
        let words: Vec<String> = def.split(' ').map(String::from).collect();
        let expr = parse_acl_expr(&words).map_err(|e| c.invalid(e))?;
        let test = compile_test(&expr, c)?;
        let i = self.named.len();
        self.named.push(vec![test]);
        self.by_name.insert(name.to_string(), i);
        Ok(i)
    }

    /// Compiles a condition (none = always true).
    pub(crate) fn cond(
        &mut self,
        cond: Option<&Condition>,
        c: &mut Compiler<'_>,
    ) -> Result<Option<Cond>, RulesError> {
        let Some(cond) = cond else {
            return Ok(None);
        };
        let mut any_of = Vec::with_capacity(cond.any_of.len());
        for group in &cond.any_of {
            let mut terms = Vec::with_capacity(group.len());
            for t in group {
                let r = match &t.acl {
                    AclRef::Named(n) => Ref::Named(self.index(n, c)?),
                    AclRef::Anonymous(e) => Ref::Anon(Box::new(compile_test(e, c)?)),
                };
                terms.push((t.negated, r));
            }
            any_of.push(terms);
        }
        Ok(Some(Cond {
            unless: cond.unless,
            any_of,
        }))
    }

    fn eval_ref(&self, r: &Ref, ctx: &Ctx<'_>, bufs: &mut Bufs) -> bool {
        match r {
            Ref::Named(i) => self
                .named
                .get(*i)
                .is_some_and(|tests| tests.iter().any(|t| t.eval(ctx, bufs))),
            Ref::Anon(t) => t.eval(ctx, bufs),
        }
    }

    /// Evaluates a condition: short-circuit OR of ANDs, inverted for `unless`.
    pub(crate) fn eval_cond(&self, cond: &Cond, ctx: &Ctx<'_>, bufs: &mut Bufs) -> bool {
        let any = cond
            .any_of
            .iter()
            .any(|group| group.iter().all(|(neg, r)| self.eval_ref(r, ctx, bufs) != *neg));
        any != cond.unless
    }

    /// Evaluates a named ACL (declared or already used predefined one).
    pub(crate) fn eval_named(&self, name: &str, ctx: &Ctx<'_>, bufs: &mut Bufs) -> Option<bool> {
        let i = *self.by_name.get(name)?;
        Some(self.eval_ref(&Ref::Named(i), ctx, bufs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cond::PREDEFINED_ACLS;
    use crate::map::Maps;
    use std::sync::Arc;

    #[test]
    fn every_predefined_acl_compiles() {
        let maps = Arc::new(Maps::default());
        let mut c = Compiler {
            proxy: "p".into(),
            maps: &maps,
            userlists: &[],
            uses_maps: false,
            warnings: Vec::new(),
        };
        let mut t = AclTable::default();
        for name in PREDEFINED_ACLS {
            assert!(predefined(name).is_some(), "{name}");
            let i = t.index(name, &mut c).expect("compiles");
            assert_eq!(t.index(name, &mut c).expect("cached"), i, "compiled once");
        }
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(t.index("NOT_AN_ACL", &mut c).is_err());
    }

    #[test]
    fn suffixes_split_only_known_fetches() {
        let maps = Arc::new(Maps::default());
        let mut c = Compiler {
            proxy: "p".into(),
            maps: &maps,
            userlists: &[],
            uses_maps: false,
            warnings: Vec::new(),
        };
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        // (expression, compiles without warning)
        let table = [
            ("path_beg /a", true),
            ("hdr_dom(host) a", true),
            ("dst_port 80", true),
            ("hdr_cnt(x) 1", true),
            ("req.hdr_cnt(x) 1", true),
            ("src_port 1:2", true),
            ("nosuch_beg x", false),
        ];
        for (expr, clean) in table {
            c.warnings.clear();
            let e = parse_acl_expr(&w(expr)).expect("parses");
            compile_test(&e, &mut c).expect("compiles");
            assert_eq!(c.warnings.is_empty(), clean, "{expr}: {:?}", c.warnings);
        }
        // Bad patterns for typed matches are config errors.
        for bad in [
            "dst_port abc",
            "path -m bin zz",
            "path_reg (",
            "src_port -m int 1:x",
        ] {
            let e = parse_acl_expr(&w(bad)).expect("parses");
            assert!(compile_test(&e, &mut c).is_err(), "{bad}");
        }
    }
}
