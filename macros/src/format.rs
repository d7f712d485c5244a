//! Format strings: the parser, the resolution of every reference to a slot,
//! and the canonical template a callsite stores.
//!
//! # What is parsed
//!
//! The whole syntax of `format_args!`, with the compiler's own rules (those of
//! `rustc_parse_format` and of the `format_args!` expansion): `{}`, `{0}`,
//! `{name}` (a named argument, or else a variable captured from the scope),
//! whitespace before the `:` and before the `}`, and the spec
//! `[[fill]align][sign]['#']['0'][width]['.' precision][type]` where width and
//! precision are a literal `u16`, `N$`, `name$`, or (precision only) `*`.
//! A string the compiler rejects is rejected here too ([`Error::Invalid`]):
//! the macro then emits only the `format_args!` check, so that the compiler
//! reports its own error, on the user's tokens.
//!
//! # Slots
//!
//! Slot `i < nargs` is argument `i`: the positional arguments, then the named
//! ones (`name = expr`, in call order), then the variables captured by
//! `{name}` or `name$` (in the order they first appear). An argument shown
//! again by a placeholder with a different spec than the first that showed it
//! gets a hidden slot (`>= nargs`), one per distinct spec, holding the same
//! argument again: a fallback argument is pre-formatted with its placeholder's
//! spec, so each spec needs its own copy.
//!
//! # The canonical template
//!
//! Rust format syntax in which every placeholder names its slot: `{N}` or
//! `{N:spec}`, the zero flag and the width written apart (`{0:+#010x}`), a
//! `*` precision and every `name$` rewritten as `N$` with the slot's index,
//! a space fill dropped (it is the default), and literal braces doubled.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The most slots a callsite can have (they are counted in a `u16`).
pub(crate) const MAX_SLOTS: usize = u16::MAX as usize;

/// The longest canonical template, in bytes (its length is a `u16`).
pub(crate) const MAX_TEMPLATE: usize = u16::MAX as usize;

/// Why a format string has no canonical form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// `format_args!` rejects the string with these arguments (the reason is
    /// for tests: the compiler's own error is the one the user sees).
    Invalid(&'static str),
    /// Valid, but it needs more than [`MAX_SLOTS`] slots.
    TooManySlots(usize),
    /// Valid, but its canonical template is longer than [`MAX_TEMPLATE`].
    TemplateTooLong(usize),
}

/// A format string resolved against a call's arguments.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Canonical {
    /// The template, as the callsite's dictionary entry stores it.
    pub(crate) template: String,
    /// The variables captured by `{name}` or `name$`, in slot order: capture
    /// `k` is argument (and slot) `explicit + k`.
    pub(crate) captures: Vec<String>,
    /// Every slot, visible then hidden: what it carries and how its fallback
    /// is formatted.
    pub(crate) slots: Vec<SlotPlan>,
}

/// One slot of a call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SlotPlan {
    /// The argument the slot holds (explicit, then captured).
    pub(crate) arg: usize,
    /// The format string that pre-formats the argument when it has no binary
    /// form: the spec of the placeholder that shows this slot, as
    /// `{:spec}`, or `{0:spec}` with width and precision arguments renumbered
    /// `1$` (and `2$`) when the spec refers to any.
    pub(crate) fallback: String,
    /// The arguments that `fallback` takes after the slot's own (width and
    /// precision values, `usize`), in order.
    pub(crate) fallback_counts: Vec<usize>,
    /// The placeholder formats with `{:p}`: the slot is always pre-formatted.
    pub(crate) pointer: bool,
}

/// Resolves `format` (the string's value, escapes already processed) against
/// a call's explicit arguments: `None` for a positional one, `Some(name)` for
/// `name = expr`, in call order.
pub(crate) fn canonicalize(format: &str, explicit: &[Option<String>]) -> Result<Canonical, Error> {
    let pieces = parse(format)?;
    let mut resolver = Resolver::new(explicit)?;
    resolver.resolve(&pieces)?;
    resolver.into_canonical(&pieces)
}

// ---------------------------------------------------------------------------
// The parser: `rustc_parse_format`'s grammar and errors.

/// A piece of a parsed format string.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// Literal text (braces already unescaped).
    Text(String),
    /// A placeholder.
    Placeholder(Placeholder),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Placeholder {
    position: Position,
    spec: Spec,
}

/// Which argument a placeholder or a count refers to, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Position {
    /// `{}` (the next implicit index) or `.*` (the same counter).
    Implicit(usize),
    /// `{N}` or `N$`.
    Index(usize),
    /// `{name}` or `name$`.
    Name(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Spec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    alternate: bool,
    zero: bool,
    width: Option<Count>,
    precision: Option<Count>,
    /// `""`, `"?"`, `"x?"`, `"X?"`, `"x"`, `"X"`, `"o"`, `"b"`, `"e"`, `"E"`
    /// or `"p"`.
    ty: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Count {
    Literal(u16),
    Arg(Position),
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    /// The implicit argument counter (`{}` and `.*`).
    next_implicit: usize,
}

/// Parses a whole format string, or says why `format_args!` rejects it.
fn parse(input: &str) -> Result<Vec<Piece>, Error> {
    let mut parser = Parser {
        chars: input.chars().collect(),
        at: 0,
        next_implicit: 0,
    };
    let mut pieces = Vec::new();
    let mut text = String::new();
    while let Some(c) = parser.peek() {
        parser.at += 1;
        match c {
            '{' if parser.consume('{') => text.push('{'),
            '{' => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                let placeholder = parser.placeholder()?;
                parser.ws();
                if !parser.consume('}') {
                    return Err(Error::Invalid("expected `}`"));
                }
                pieces.push(Piece::Placeholder(placeholder));
            }
            '}' if parser.consume('}') => text.push('}'),
            '}' => return Err(Error::Invalid("unmatched `}`")),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_ahead(&self) -> Option<char> {
        self.chars.get(self.at + 1).copied()
    }

    fn consume(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Skips whitespace (Unicode's, as `char::is_whitespace` says).
    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// What follows a `{` (not `{{`), up to the closing `}` (not consumed).
    fn placeholder(&mut self) -> Result<Placeholder, Error> {
        let position = self.position()?;
        self.ws();
        let spec = self.spec()?;
        // An implicit position is numbered after the spec, so that `{:.*}`
        // takes the precision first and the value second.
        let position = match position {
            Some(position) => position,
            None => {
                let i = self.next_implicit;
                self.next_implicit += 1;
                Position::Implicit(i)
            }
        };
        Ok(Placeholder { position, spec })
    }

    /// `N`, `name`, or nothing (an implicit position: `None`).
    fn position(&mut self) -> Result<Option<Position>, Error> {
        if let Some(i) = self.integer()? {
            return Ok(Some(Position::Index(usize::from(i))));
        }
        if !self.peek().is_some_and(is_id_start) {
            return Ok(None);
        }
        let word = self.word()?;
        if word == "r" && self.peek() == Some('#') && self.peek_ahead().is_some_and(is_id_start) {
            return Err(Error::Invalid("raw identifiers are not supported"));
        }
        Ok(Some(Position::Name(word)))
    }

    /// After the position: nothing, or `:` and a spec.
    fn spec(&mut self) -> Result<Spec, Error> {
        let mut spec = Spec::default();
        if !self.consume(':') {
            return Ok(spec);
        }
        if let (Some(c), Some('<' | '>' | '^')) = (self.peek(), self.peek_ahead()) {
            self.at += 1;
            spec.fill = Some(c);
        }
        if let Some(c @ ('<' | '>' | '^')) = self.peek() {
            self.at += 1;
            spec.align = Some(c);
        }
        if let Some(c @ ('+' | '-')) = self.peek() {
            self.at += 1;
            spec.sign = Some(c);
        }
        spec.alternate = self.consume('#');
        let mut have_width = false;
        if self.consume('0') {
            // `0$` is the width taken from argument 0, not the zero flag.
            if self.consume('$') {
                spec.width = Some(Count::Arg(Position::Index(0)));
                have_width = true;
            } else {
                spec.zero = true;
            }
        }
        if !have_width {
            spec.width = self.count()?;
        }
        if self.consume('.') {
            spec.precision = if self.consume('*') {
                let i = self.next_implicit;
                self.next_implicit += 1;
                Some(Count::Arg(Position::Implicit(i)))
            } else {
                // A `.` followed by no count is no precision at all.
                self.count()?
            };
        }
        spec.ty = if self.consume('x') {
            if self.consume('?') { "x?" } else { "x" }
        } else if self.consume('X') {
            if self.consume('?') { "X?" } else { "X" }
        } else if self.consume('?') {
            "?"
        } else {
            match self.word()?.as_str() {
                "" => "",
                "e" => "e",
                "E" => "E",
                "o" => "o",
                "p" => "p",
                "b" => "b",
                // `x` and `X` were taken above.
                _ => return Err(Error::Invalid("unknown format trait")),
            }
        };
        Ok(spec)
    }

    /// A width or precision: `N`, `N$`, `name$`, or nothing.
    fn count(&mut self) -> Result<Option<Count>, Error> {
        if let Some(i) = self.integer()? {
            return Ok(Some(if self.consume('$') {
                Count::Arg(Position::Index(usize::from(i)))
            } else {
                Count::Literal(i)
            }));
        }
        let start = self.at;
        let word = self.word()?;
        if !word.is_empty() && self.consume('$') {
            return Ok(Some(Count::Arg(Position::Name(word))));
        }
        // Not a count: the word (if any) is the type, read again later.
        self.at = start;
        Ok(None)
    }

    /// An identifier or keyword (but not `_`), or the empty string.
    fn word(&mut self) -> Result<String, Error> {
        let mut word = String::new();
        match self.peek() {
            Some(c) if is_id_start(c) => {
                word.push(c);
                self.at += 1;
            }
            _ => return Ok(word),
        }
        while let Some(c) = self.peek().filter(|&c| unicode_ident::is_xid_continue(c)) {
            word.push(c);
            self.at += 1;
        }
        if word == "_" {
            return Err(Error::Invalid("invalid argument name `_`"));
        }
        Ok(word)
    }

    /// Decimal digits as a `u16`, or `None` if there are none.
    fn integer(&mut self) -> Result<Option<u16>, Error> {
        let mut value: u16 = 0;
        let mut found = false;
        let mut overflow = false;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            self.at += 1;
            found = true;
            // `to_digit(10)` is below 10: the cast cannot truncate.
            match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(digit as u16))
            {
                Some(v) => value = v,
                None => overflow = true,
            }
        }
        if overflow {
            return Err(Error::Invalid("integer does not fit into `u16`"));
        }
        Ok(found.then_some(value))
    }
}

/// The Rust lexer's rule for the first character of an identifier.
fn is_id_start(c: char) -> bool {
    c == '_' || unicode_ident::is_xid_start(c)
}

// ---------------------------------------------------------------------------
// Resolution: every reference to an argument, and the slots.

/// A spec whose width and precision name arguments by index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ResolvedSpec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    alternate: bool,
    zero: bool,
    width: Option<ResolvedCount>,
    precision: Option<ResolvedCount>,
    ty: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ResolvedCount {
    Literal(u16),
    /// The argument holding the `usize`.
    Arg(usize),
}

struct Resolver<'a> {
    explicit: &'a [Option<String>],
    used: Vec<bool>,
    /// The argument of each name: the named arguments, then the captures.
    names: HashMap<&'a str, usize>,
    captures: Vec<String>,
    /// Per placeholder, in order: the argument shown and its spec.
    placeholders: Vec<(usize, ResolvedSpec)>,
}

impl<'a> Resolver<'a> {
    /// Checks what `format_args!` asks of the arguments themselves:
    /// positional ones first, and each name once.
    fn new(explicit: &'a [Option<String>]) -> Result<Self, Error> {
        let mut names = HashMap::new();
        for (i, arg) in explicit.iter().enumerate() {
            let Some(name) = arg else {
                if !names.is_empty() {
                    return Err(Error::Invalid("positional argument after a named one"));
                }
                continue;
            };
            if names.insert(name.as_str(), i).is_some() {
                return Err(Error::Invalid("duplicate named argument"));
            }
        }
        Ok(Resolver {
            explicit,
            used: vec![false; explicit.len()],
            names,
            captures: Vec::new(),
            placeholders: Vec::new(),
        })
    }

    fn resolve(&mut self, pieces: &'a [Piece]) -> Result<(), Error> {
        for piece in pieces {
            let Piece::Placeholder(Placeholder { position, spec }) = piece else {
                continue;
            };
            // In the order they are written: the value, the width, the
            // precision (the order in which captured names get their slots).
            let arg = self.lookup(position)?;
            let width = self.count(spec.width.as_ref())?;
            let precision = self.count(spec.precision.as_ref())?;
            let spec = ResolvedSpec {
                // A space is the default fill: dropped, so that `{: >4}` and
                // `{:>4}` share a slot.
                fill: spec.fill.filter(|&c| c != ' '),
                align: spec.align,
                sign: spec.sign,
                alternate: spec.alternate,
                zero: spec.zero,
                width,
                precision,
                ty: spec.ty,
            };
            self.placeholders.push((arg, spec));
        }
        if self.used.contains(&false) {
            return Err(Error::Invalid("argument never used"));
        }
        Ok(())
    }

    fn lookup(&mut self, position: &'a Position) -> Result<usize, Error> {
        match position {
            Position::Implicit(i) | Position::Index(i) => {
                // Indices count the explicit arguments only (named ones
                // included); captured variables have no index.
                if *i >= self.explicit.len() {
                    return Err(Error::Invalid("invalid reference to a positional argument"));
                }
                self.used[*i] = true;
                Ok(*i)
            }
            Position::Name(name) => {
                let next = self.explicit.len() + self.captures.len();
                let arg = *self.names.entry(name).or_insert(next);
                if arg == next {
                    // A variable captured from the scope: the next argument.
                    self.captures.push(name.clone());
                } else if let Some(used) = self.used.get_mut(arg) {
                    *used = true;
                }
                Ok(arg)
            }
        }
    }

    fn count(&mut self, count: Option<&'a Count>) -> Result<Option<ResolvedCount>, Error> {
        Ok(match count {
            None => None,
            Some(Count::Literal(n)) => Some(ResolvedCount::Literal(*n)),
            Some(Count::Arg(position)) => Some(ResolvedCount::Arg(self.lookup(position)?)),
        })
    }

    fn into_canonical(self, pieces: &[Piece]) -> Result<Canonical, Error> {
        let nargs = self.explicit.len() + self.captures.len();
        // The spec each argument was first shown with, and the hidden slots:
        // (argument, spec) -> slot.
        let mut first_spec: Vec<Option<ResolvedSpec>> = vec![None; nargs];
        let mut hidden: Vec<(usize, ResolvedSpec)> = Vec::new();
        let mut hidden_index: HashMap<(usize, &ResolvedSpec), usize> = HashMap::new();
        let mut placeholder_slots = Vec::with_capacity(self.placeholders.len());
        for (arg, spec) in &self.placeholders {
            let slot = match &first_spec[*arg] {
                None => {
                    first_spec[*arg] = Some(spec.clone());
                    *arg
                }
                Some(first) if first == spec => *arg,
                Some(_) => *hidden_index.entry((*arg, spec)).or_insert_with(|| {
                    hidden.push((*arg, spec.clone()));
                    nargs + hidden.len() - 1
                }),
            };
            placeholder_slots.push(slot);
        }
        let total = nargs + hidden.len();
        if total > MAX_SLOTS {
            return Err(Error::TooManySlots(total));
        }

        let mut template = String::new();
        let mut next = placeholder_slots.iter();
        let mut placeholders = self.placeholders.iter();
        for piece in pieces {
            match piece {
                Piece::Text(text) => {
                    for c in text.chars() {
                        match c {
                            '{' => template.push_str("{{"),
                            '}' => template.push_str("}}"),
                            c => template.push(c),
                        }
                    }
                }
                Piece::Placeholder(_) => {
                    let (Some(slot), Some((_, spec))) = (next.next(), placeholders.next()) else {
                        unreachable!("one resolved placeholder per placeholder piece");
                    };
                    write!(template, "{{{slot}").expect("writing to a String");
                    if !spec_is_empty(spec) {
                        template.push(':');
                        write_spec(&mut template, spec, |arg| arg);
                    }
                    template.push('}');
                }
            }
        }
        if template.len() > MAX_TEMPLATE {
            return Err(Error::TemplateTooLong(template.len()));
        }

        let plain = ResolvedSpec {
            fill: None,
            align: None,
            sign: None,
            alternate: false,
            zero: false,
            width: None,
            precision: None,
            ty: "",
        };
        let slots = first_spec
            .into_iter()
            .enumerate()
            // An argument only ever used as a width or precision (a `usize`)
            // is shown by nothing: plain `Display` is its fallback.
            .map(|(arg, spec)| (arg, spec.unwrap_or_else(|| plain.clone())))
            .chain(hidden)
            .map(|(arg, spec)| fallback_plan(arg, &spec))
            .collect();
        Ok(Canonical {
            template,
            captures: self.captures,
            slots,
        })
    }
}

fn spec_is_empty(spec: &ResolvedSpec) -> bool {
    spec.fill.is_none()
        && spec.align.is_none()
        && spec.sign.is_none()
        && !spec.alternate
        && !spec.zero
        && spec.width.is_none()
        && spec.precision.is_none()
        && spec.ty.is_empty()
}

/// Writes a spec (what follows the `:`), naming the arguments of width and
/// precision through `arg_index`.
fn write_spec(out: &mut String, spec: &ResolvedSpec, arg_index: impl Fn(usize) -> usize) {
    if let Some(align) = spec.align {
        if let Some(fill) = spec.fill {
            out.push(fill);
        }
        out.push(align);
    }
    if let Some(sign) = spec.sign {
        out.push(sign);
    }
    if spec.alternate {
        out.push('#');
    }
    if spec.zero {
        out.push('0');
    }
    match spec.width {
        None => {}
        // Without the zero flag, a width of 0 pads nothing; written, it
        // would read as the flag.
        Some(ResolvedCount::Literal(0)) if !spec.zero => {}
        Some(ResolvedCount::Literal(n)) => write!(out, "{n}").expect("writing to a String"),
        Some(ResolvedCount::Arg(arg)) => {
            write!(out, "{}$", arg_index(arg)).expect("writing to a String");
        }
    }
    match spec.precision {
        None => {}
        Some(ResolvedCount::Literal(n)) => write!(out, ".{n}").expect("writing to a String"),
        Some(ResolvedCount::Arg(arg)) => {
            write!(out, ".{}$", arg_index(arg)).expect("writing to a String");
        }
    }
    out.push_str(spec.ty);
}

/// The fallback of a slot holding `arg`, shown with `spec`.
fn fallback_plan(arg: usize, spec: &ResolvedSpec) -> SlotPlan {
    let mut counts = Vec::new();
    for count in [spec.width, spec.precision].into_iter().flatten() {
        if let ResolvedCount::Arg(a) = count {
            if !counts.contains(&a) {
                counts.push(a);
            }
        }
    }
    let mut fallback = String::from(if counts.is_empty() { "{" } else { "{0" });
    if !spec_is_empty(spec) {
        fallback.push(':');
        write_spec(&mut fallback, spec, |a| {
            1 + counts
                .iter()
                .position(|&c| c == a)
                .expect("every count argument is listed")
        });
    }
    fallback.push('}');
    SlotPlan {
        arg,
        fallback,
        fallback_counts: counts,
        pointer: spec.ty == "p",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positional(n: usize) -> Vec<Option<String>> {
        vec![None; n]
    }

    fn args(list: &[Option<&str>]) -> Vec<Option<String>> {
        list.iter().map(|a| a.map(str::to_owned)).collect()
    }

    /// The canonical template of `format` with `n` positional arguments.
    fn template(format: &str, n: usize) -> String {
        canonicalize(format, &positional(n))
            .expect("valid")
            .template
    }

    fn invalid(format: &str, explicit: &[Option<String>]) -> &'static str {
        match canonicalize(format, explicit) {
            Err(Error::Invalid(why)) => why,
            other => panic!("{format:?}: expected Invalid, got {other:?}"),
        }
    }

    /// (slot's argument, fallback, fallback's count arguments, pointer) per slot.
    fn plans(c: &Canonical) -> Vec<(usize, &str, Vec<usize>, bool)> {
        c.slots
            .iter()
            .map(|s| {
                (
                    s.arg,
                    s.fallback.as_str(),
                    s.fallback_counts.clone(),
                    s.pointer,
                )
            })
            .collect()
    }

    #[test]
    fn text_and_escapes() {
        assert_eq!(template("", 0), "");
        assert_eq!(template("plain text", 0), "plain text");
        assert_eq!(template("{{}}", 0), "{{}}");
        assert_eq!(template("a {{b}} c", 0), "a {{b}} c");
        assert_eq!(template("{{{}}}", 1), "{{{0}}}");
        assert_eq!(template("é ✓ \n\t\"", 0), "é ✓ \n\t\"");
    }

    #[test]
    fn implicit_and_explicit_positions() {
        assert_eq!(template("{} {}", 2), "{0} {1}");
        assert_eq!(template("{1} {0}", 2), "{1} {0}");
        assert_eq!(template("{} {0} {}", 2), "{0} {0} {1}");
        // The implicit counter ignores explicit indices.
        assert_eq!(template("{1} {} {}", 2), "{1} {0} {1}");
        // Whitespace before the `:` and the `}` (not before the position).
        assert_eq!(template("{ } {0 } {1 :?}", 2), "{0} {0} {1:?}");
        assert_eq!(template("{:5 } {0:x>\n}", 1), "{0:5} {1:x>}");
        let c = canonicalize("{0}{0}{0}", &positional(1)).unwrap();
        assert_eq!(c.template, "{0}{0}{0}");
        assert_eq!(c.slots.len(), 1);
    }

    #[test]
    fn named_arguments_and_captures() {
        let explicit = args(&[None, Some("px"), Some("qty")]);
        let c = canonicalize("{} {px} {qty} {id} {px} {id:?}", &explicit).unwrap();
        // Named arguments keep their call order; captures come after them.
        assert_eq!(c.template, "{0} {1} {2} {3} {1} {4:?}");
        assert_eq!(c.captures, ["id"]);
        assert_eq!(
            plans(&c),
            [
                (0, "{}", vec![], false),
                (1, "{}", vec![], false),
                (2, "{}", vec![], false),
                (3, "{}", vec![], false),
                (3, "{:?}", vec![], false),
            ]
        );
        // A named argument can be used by position, and by name.
        assert_eq!(
            canonicalize("{} {}", &args(&[None, Some("a")]))
                .unwrap()
                .template,
            "{0} {1}"
        );
        assert_eq!(
            canonicalize("{0} {a}", &args(&[Some("a")]))
                .unwrap()
                .template,
            "{0} {0}"
        );
        // Captures in order of first appearance, each once; keywords and
        // non-ASCII identifiers are words too.
        let c = canonicalize("{b} {a} {b} {self} {été}", &[]).unwrap();
        assert_eq!(c.template, "{0} {1} {0} {2} {3}");
        assert_eq!(c.captures, ["b", "a", "self", "été"]);
        assert_eq!(canonicalize("{_x}", &[]).unwrap().captures, ["_x"]);
    }

    #[test]
    fn fill_align_sign_flags() {
        assert_eq!(template("{:<5}", 1), "{0:<5}");
        assert_eq!(template("{:^5}", 1), "{0:^5}");
        assert_eq!(template("{:>5}", 1), "{0:>5}");
        assert_eq!(template("{:*^9}", 1), "{0:*^9}");
        // A space fill is the default, dropped.
        assert_eq!(template("{: >5}", 1), "{0:>5}");
        // Any character fills, braces and `:` included.
        assert_eq!(template("{:}>6}", 1), "{0:}>6}");
        assert_eq!(template("{:{<6}", 1), "{0:{<6}");
        assert_eq!(template("{::^6}", 1), "{0::^6}");
        assert_eq!(template("{:<<6}", 1), "{0:<<6}");
        assert_eq!(template("{:é>6}", 1), "{0:é>6}");
        assert_eq!(template("{:+}", 1), "{0:+}");
        assert_eq!(template("{:-}", 1), "{0:-}");
        assert_eq!(template("{:#?}", 1), "{0:#?}");
        assert_eq!(template("{:+#010x}", 1), "{0:+#010x}");
        assert_eq!(template("{:0}", 1), "{0:0}");
        assert_eq!(template("{:00}", 1), "{0:00}");
        assert_eq!(template("{:05}", 1), "{0:05}");
        assert_eq!(template("{:<+#08.3e}", 1), "{0:<+#08.3e}");
        // Fill and alignment with the zero flag: all kept.
        assert_eq!(template("{:x>+08}", 1), "{0:x>+08}");
    }

    #[test]
    fn every_type() {
        for (ty, written) in [
            ("", ""),
            ("?", "?"),
            ("x?", "x?"),
            ("X?", "X?"),
            ("x", "x"),
            ("X", "X"),
            ("o", "o"),
            ("b", "b"),
            ("e", "e"),
            ("E", "E"),
            ("p", "p"),
        ] {
            let expected = if written.is_empty() {
                "{0}".to_owned()
            } else {
                format!("{{0:{written}}}")
            };
            assert_eq!(template(&format!("{{:{ty}}}"), 1), expected, "type {ty:?}");
        }
        assert_eq!(template("{:#x?}", 1), "{0:#x?}");
        assert_eq!(template("{:08.3X?}", 1), "{0:08.3X?}");
        let c = canonicalize("{:p} {0:>20p}", &positional(1)).unwrap();
        assert_eq!(c.template, "{0:p} {1:>20p}");
        assert_eq!(
            plans(&c),
            [(0, "{:p}", vec![], true), (0, "{:>20p}", vec![], true)]
        );
    }

    #[test]
    fn widths_and_precisions() {
        assert_eq!(template("{:10}", 1), "{0:10}");
        assert_eq!(template("{:.3}", 1), "{0:.3}");
        assert_eq!(template("{:10.3}", 1), "{0:10.3}");
        assert_eq!(template("{:65535}", 1), "{0:65535}");
        // A `.` with no count is no precision.
        assert_eq!(template("{:.}", 1), "{0}");
        assert_eq!(template("{:>.}", 1), "{0:>}");
        // Widths and precisions from arguments.
        assert_eq!(template("{:1$}", 2), "{0:1$}");
        assert_eq!(template("{:.1$}", 2), "{0:.1$}");
        assert_eq!(template("{:1$.2$}", 3), "{0:1$.2$}");
        // `0$` is a width from argument 0, not the zero flag; `00$` is both.
        assert_eq!(template("{:0$}", 1), "{0:0$}");
        assert_eq!(template("{:00$}", 1), "{0:00$}");
        assert_eq!(template("{1:0$}", 2), "{1:0$}");
    }

    #[test]
    fn star_precision() {
        let c = canonicalize("{:.*}", &positional(2)).unwrap();
        // The star takes the next implicit argument, then the value the one after.
        assert_eq!(c.template, "{1:.0$}");
        assert_eq!(
            plans(&c),
            [(0, "{}", vec![], false), (1, "{0:.1$}", vec![0], false)]
        );
        assert_eq!(template("{} {:.*} {}", 4), "{0} {2:.1$} {3}");
        // With an explicit position, the star still takes the implicit counter.
        assert_eq!(template("{0:.*} {}", 2), "{0:.0$} {1}");
        assert_eq!(template("{:>8.*}", 2), "{1:>8.0$}");
        assert_eq!(template("{:.*} {:.*}", 4), "{1:.0$} {3:.2$}");
    }

    #[test]
    fn named_counts() {
        let explicit = args(&[None, Some("w")]);
        let c = canonicalize("{:w$}", &explicit).unwrap();
        assert_eq!(c.template, "{0:1$}");
        assert_eq!(
            plans(&c),
            [(0, "{0:1$}", vec![1], false), (1, "{}", vec![], false)]
        );
        // Captured counts, in the order written: value, width, precision.
        let c = canonicalize("{x:w$.p$} {y:.p$}", &[]).unwrap();
        assert_eq!(c.template, "{0:1$.2$} {3:.2$}");
        assert_eq!(c.captures, ["x", "w", "p", "y"]);
        assert_eq!(c.slots[0].fallback, "{0:1$.2$}");
        assert_eq!(c.slots[0].fallback_counts, [1, 2]);
        assert_eq!(c.slots[3].fallback, "{0:.1$}");
        assert_eq!(c.slots[3].fallback_counts, [2]);
        // The same argument as width and precision is passed once.
        let c = canonicalize("{:1$.1$}", &positional(2)).unwrap();
        assert_eq!(c.slots[0].fallback, "{0:1$.1$}");
        assert_eq!(c.slots[0].fallback_counts, [1]);
        // An argument that is its own width.
        let c = canonicalize("{0:0$}", &positional(1)).unwrap();
        assert_eq!(c.slots[0].fallback, "{0:1$}");
        assert_eq!(c.slots[0].fallback_counts, [0]);
        // A word not followed by `$` is the type.
        assert_eq!(template("{:e}", 1), "{0:e}");
        assert_eq!(template("{:5e}", 1), "{0:5e}");
    }

    #[test]
    fn hidden_slots() {
        let c = canonicalize("{0} {0:?} {0:?} {0} {0:x} {1}", &positional(2)).unwrap();
        // The first spec is the argument's own slot; each other spec one
        // hidden slot, shared by the placeholders that repeat it.
        assert_eq!(c.template, "{0} {2:?} {2:?} {0} {3:x} {1}");
        assert_eq!(
            plans(&c),
            [
                (0, "{}", vec![], false),
                (1, "{}", vec![], false),
                (0, "{:?}", vec![], false),
                (0, "{:x}", vec![], false),
            ]
        );
        // Hidden slots come after the captures.
        let c = canonicalize("{a} {a:>4} {b}", &[]).unwrap();
        assert_eq!(c.template, "{0} {2:>4} {1}");
        assert_eq!(c.slots.len(), 3);
        // A spec differing only by a space fill is the same spec.
        assert_eq!(template("{:>3} {0: >3}", 1), "{0:>3} {0:>3}");
        // An argument first used as a width, then shown: its first display
        // spec is its slot's.
        let c = canonicalize("{:1$} {1:?}", &positional(2)).unwrap();
        assert_eq!(c.template, "{0:1$} {1:?}");
        assert_eq!(plans(&c)[1], (1, "{:?}", vec![], false));
    }

    #[test]
    fn rejected_like_format_args() {
        let none: &[Option<String>] = &[];
        let one = positional(1);
        let two = positional(2);
        assert_eq!(invalid("{", none), "expected `}`");
        assert_eq!(invalid("}", none), "unmatched `}`");
        assert_eq!(invalid("{}}", &one), "unmatched `}`");
        assert_eq!(invalid("{0", &one), "expected `}`");
        assert_eq!(invalid("{ 0}", &one), "expected `}`");
        assert_eq!(invalid("{:?x}", &one), "expected `}`");
        assert_eq!(invalid("{:?#}", &one), "expected `}`");
        assert_eq!(invalid("{a.b}", none), "expected `}`");
        assert_eq!(invalid("{:*}", &one), "expected `}`");
        assert_eq!(invalid("{:d}", &one), "unknown format trait");
        assert_eq!(invalid("{:xx}", &one), "expected `}`");
        assert_eq!(invalid("{:_}", &one), "invalid argument name `_`");
        assert_eq!(invalid("{_}", none), "invalid argument name `_`");
        assert_eq!(
            invalid("{r#type}", none),
            "raw identifiers are not supported"
        );
        assert_eq!(invalid("{65536}", &one), "integer does not fit into `u16`");
        assert_eq!(invalid("{:65536}", &one), "integer does not fit into `u16`");
        // Argument references.
        assert_eq!(
            invalid("{}", none),
            "invalid reference to a positional argument"
        );
        assert_eq!(
            invalid("{} {}", &one),
            "invalid reference to a positional argument"
        );
        assert_eq!(
            invalid("{1}", &one),
            "invalid reference to a positional argument"
        );
        assert_eq!(
            invalid("{:.*}", &one),
            "invalid reference to a positional argument"
        );
        assert_eq!(
            invalid("{:2$}", &two),
            "invalid reference to a positional argument"
        );
        assert_eq!(invalid("{}", &two), "argument never used");
        assert_eq!(
            invalid("{a}", &args(&[Some("a"), Some("b")])),
            "argument never used"
        );
        // A capture has no index.
        assert_eq!(
            invalid("{a} {0}", none),
            "invalid reference to a positional argument"
        );
        // The arguments themselves.
        assert_eq!(
            invalid("{} {a}", &args(&[Some("a"), None])),
            "positional argument after a named one"
        );
        assert_eq!(
            invalid("{a}", &args(&[Some("a"), Some("a")])),
            "duplicate named argument"
        );
    }

    #[test]
    fn limits() {
        let many = "{}".repeat(70_000);
        assert_eq!(
            canonicalize(&many, &positional(70_000)),
            Err(Error::TooManySlots(70_000))
        );
        let long = "x".repeat(MAX_TEMPLATE + 1);
        assert_eq!(
            canonicalize(&long, &[]),
            Err(Error::TemplateTooLong(MAX_TEMPLATE + 1))
        );
        // Escaped braces count twice in the template.
        let braces = "{{".repeat(MAX_TEMPLATE / 2 + 1);
        assert!(matches!(
            canonicalize(&braces, &[]),
            Err(Error::TemplateTooLong(_))
        ));
        assert!(canonicalize(&"x".repeat(MAX_TEMPLATE), &[]).is_ok());
    }
}
