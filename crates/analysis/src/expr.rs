//! Composed change heuristics, written as BlockSci users write them:
//!
//! ```text
//! legacy                                 one heuristic
//! address_type & optimal_change          both (intersection); also `|` (union) and `-`
//! unique(address_reuse) | legacy         unique(e): e's set if it has one output, else none
//! agree(2, legacy, optimal_change, address_type)
//!                                        the output that at least 2 of these name as their
//!                                        unique candidate, provided none names another
//! ```
//! Precedence as in Python (BlockSci's host language): `-` over `&` over `|`.
//! `agree` is the rule of methods.md §2.3: a unique candidate plus agreement of at least two
//! heuristics, and no disagreement.

use std::fmt;

use crate::change::{candidates, Context, Heuristic, OutSet};
use crate::txview::TxView;

#[derive(Clone, Debug, PartialEq)]
pub enum ChangeExpr {
    One(Heuristic),
    Unique(Box<ChangeExpr>),
    And(Box<ChangeExpr>, Box<ChangeExpr>),
    Or(Box<ChangeExpr>, Box<ChangeExpr>),
    Minus(Box<ChangeExpr>, Box<ChangeExpr>),
    Agree(usize, Vec<ChangeExpr>),
}

/// The change verdict on one transaction: the output, and the heuristics whose candidate
/// sets contain it (the evidence recorded with a merge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeVerdict {
    pub output: usize,
    pub heuristics: u16,
}

impl ChangeExpr {
    pub fn parse(s: &str) -> Result<ChangeExpr, String> {
        let tokens = tokenize(s)?;
        let mut p = Parser { tokens, pos: 0 };
        let e = p.union()?;
        match p.tokens.get(p.pos) {
            None => Ok(e),
            Some(t) => Err(format!("unexpected {t:?} at token {} of {s:?}", p.pos + 1)),
        }
    }

    pub fn eval(&self, tx: &TxView, ctx: &Context) -> OutSet {
        match self {
            ChangeExpr::One(h) => candidates(*h, tx, ctx),
            ChangeExpr::Unique(e) => {
                let s = e.eval(tx, ctx);
                if s.len() == 1 {
                    s
                } else {
                    OutSet::empty(tx.outputs.len())
                }
            }
            ChangeExpr::And(a, b) => a.eval(tx, ctx).and(&b.eval(tx, ctx)),
            ChangeExpr::Or(a, b) => a.eval(tx, ctx).or(&b.eval(tx, ctx)),
            ChangeExpr::Minus(a, b) => a.eval(tx, ctx).minus(&b.eval(tx, ctx)),
            ChangeExpr::Agree(k, es) => {
                let singles: Vec<usize> =
                    es.iter().filter_map(|e| e.eval(tx, ctx).single()).collect();
                let mut out = OutSet::empty(tx.outputs.len());
                if let Some(&first) = singles.first() {
                    if singles.len() >= *k && singles.iter().all(|&o| o == first) {
                        out.insert(first);
                    }
                }
                out
            }
        }
    }

    /// The change output of `tx` under this expression, if the composed set names exactly one.
    pub fn verdict(&self, tx: &TxView, ctx: &Context) -> Option<ChangeVerdict> {
        let output = self.eval(tx, ctx).single()?;
        let heuristics = self
            .heuristics()
            .into_iter()
            .filter(|&h| candidates(h, tx, ctx).contains(output))
            .fold(0u16, |m, h| m | h.bit());
        Some(ChangeVerdict { output, heuristics })
    }

    /// Every heuristic the expression names.
    pub fn heuristics(&self) -> Vec<Heuristic> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out.sort_by_key(|h| *h as u8);
        out.dedup();
        out
    }

    fn collect(&self, out: &mut Vec<Heuristic>) {
        match self {
            ChangeExpr::One(h) => out.push(*h),
            ChangeExpr::Unique(e) => e.collect(out),
            ChangeExpr::And(a, b) | ChangeExpr::Or(a, b) | ChangeExpr::Minus(a, b) => {
                a.collect(out);
                b.collect(out);
            }
            ChangeExpr::Agree(_, es) => es.iter().for_each(|e| e.collect(out)),
        }
    }
}

impl fmt::Display for ChangeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeExpr::One(h) => write!(f, "{}", h.name()),
            ChangeExpr::Unique(e) => write!(f, "unique({e})"),
            ChangeExpr::And(a, b) => write!(f, "({a} & {b})"),
            ChangeExpr::Or(a, b) => write!(f, "({a} | {b})"),
            ChangeExpr::Minus(a, b) => write!(f, "({a} - {b})"),
            ChangeExpr::Agree(k, es) => {
                write!(f, "agree({k}")?;
                for e in es {
                    write!(f, ", {e}")?;
                }
                write!(f, ")")
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    Number(usize),
    Sym(char),
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "&|-(),".contains(c) {
            out.push(Token::Sym(c));
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut w = String::new();
            while let Some(&(_, c)) = chars
                .peek()
                .filter(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
            {
                w.push(c);
                chars.next();
            }
            out.push(match w.parse() {
                Ok(n) => Token::Number(n),
                Err(_) => Token::Name(w),
            });
        } else {
            return Err(format!(
                "unexpected character {c:?} at column {} of {s:?}",
                i + 1
            ));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek_sym(&self, c: char) -> bool {
        self.tokens.get(self.pos) == Some(&Token::Sym(c))
    }
    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek_sym(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {c:?} at token {}", self.pos + 1))
        }
    }
    fn union(&mut self) -> Result<ChangeExpr, String> {
        let mut e = self.intersection()?;
        while self.peek_sym('|') {
            self.pos += 1;
            e = ChangeExpr::Or(Box::new(e), Box::new(self.intersection()?));
        }
        Ok(e)
    }
    fn intersection(&mut self) -> Result<ChangeExpr, String> {
        let mut e = self.difference()?;
        while self.peek_sym('&') {
            self.pos += 1;
            e = ChangeExpr::And(Box::new(e), Box::new(self.difference()?));
        }
        Ok(e)
    }
    fn difference(&mut self) -> Result<ChangeExpr, String> {
        let mut e = self.primary()?;
        while self.peek_sym('-') {
            self.pos += 1;
            e = ChangeExpr::Minus(Box::new(e), Box::new(self.primary()?));
        }
        Ok(e)
    }
    fn primary(&mut self) -> Result<ChangeExpr, String> {
        let t = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or("expression ends early")?;
        self.pos += 1;
        match t {
            Token::Sym('(') => {
                let e = self.union()?;
                self.expect(')')?;
                Ok(e)
            }
            Token::Name(n) if n == "unique" => {
                self.expect('(')?;
                let e = self.union()?;
                self.expect(')')?;
                Ok(ChangeExpr::Unique(Box::new(e)))
            }
            Token::Name(n) if n == "agree" => {
                self.expect('(')?;
                let Some(Token::Number(k)) = self.tokens.get(self.pos).cloned() else {
                    return Err("agree(k, ...) needs a number first".into());
                };
                self.pos += 1;
                let mut es = Vec::new();
                while self.peek_sym(',') {
                    self.pos += 1;
                    es.push(self.union()?);
                }
                self.expect(')')?;
                if k == 0 || k > es.len() {
                    return Err(format!(
                        "agree({k}, ...) with {} heuristics: k must be 1..={}",
                        es.len(),
                        es.len()
                    ));
                }
                Ok(ChangeExpr::Agree(k, es))
            }
            Token::Name(n) => Heuristic::from_name(&n)
                .map(ChangeExpr::One)
                .ok_or_else(|| {
                    let known: Vec<_> = Heuristic::ALL.iter().map(|h| h.name()).collect();
                    format!(
                        "unknown change heuristic {n:?} (known: {})",
                        known.join(", ")
                    )
                }),
            other => Err(format!("unexpected {other:?} at token {}", self.pos)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundtrace_core::ScriptType::*;

    fn ctx() -> Context<'static> {
        Context {
            first_new_address: 10,
            coinjoin: false,
            ledger: None,
        }
    }

    #[test]
    fn parse_precedence_and_errors() {
        let e = ChangeExpr::parse("legacy | address_type & optimal_change - power_of_ten").unwrap();
        assert_eq!(
            e.to_string(),
            "(legacy | (address_type & (optimal_change - power_of_ten)))"
        );
        let e =
            ChangeExpr::parse("agree(2, legacy, unique(optimal_change), address_type)").unwrap();
        assert_eq!(
            e.to_string(),
            "agree(2, legacy, unique(optimal_change), address_type)"
        );
        assert!(ChangeExpr::parse("legacy &")
            .unwrap_err()
            .contains("ends early"));
        assert!(ChangeExpr::parse("legcy")
            .unwrap_err()
            .contains("unknown change heuristic"));
        assert!(ChangeExpr::parse("agree(3, legacy, address_type)")
            .unwrap_err()
            .contains("k must be"));
        assert!(ChangeExpr::parse("legacy $")
            .unwrap_err()
            .contains("column 8"));
    }

    #[test]
    fn agreement_needs_k_unique_and_no_dissent() {
        // Output 1 is fresh, below the smallest input and of the inputs' type.
        let tx = TxView::new(
            1,
            &[(20_000_000, P2wpkh, Some(1)), (25_000_000, P2wpkh, Some(2))],
            &[(30_000_000, P2pkh, Some(7)), (12_345_670, P2wpkh, Some(50))],
        );
        let e = ChangeExpr::parse("agree(2, legacy, address_type, optimal_change)").unwrap();
        let v = e.verdict(&tx, &ctx()).unwrap();
        assert_eq!(v.output, 1);
        assert_eq!(
            Heuristic::names(v.heuristics),
            vec!["address_type", "optimal_change", "legacy"]
        );
        // address_reuse names output 0 (self-change to input address 1): dissent, no verdict.
        let tx2 = TxView::new(
            1,
            &[(20_000_000, P2wpkh, Some(1)), (25_000_000, P2wpkh, Some(2))],
            &[(30_000_000, P2pkh, Some(1)), (12_345_670, P2wpkh, Some(50))],
        );
        let e = ChangeExpr::parse("agree(2, legacy, address_type, address_reuse)").unwrap();
        assert_eq!(e.verdict(&tx2, &ctx()), None);
        // With only one heuristic naming it, agree(2, ..) says nothing.
        let e = ChangeExpr::parse("agree(2, legacy, power_of_ten)").unwrap();
        let round = TxView::new(
            1,
            &[(25_000_000, P2wpkh, Some(2))],
            &[(3_000_000, P2pkh, Some(7)), (12_000_000, P2pkh, Some(50))],
        );
        assert_eq!(e.verdict(&round, &ctx()), None);
    }
}
