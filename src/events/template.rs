//! The decoder's formatter for deferred log messages: a macro callsite's
//! canonical template, rendered with the values its event carries exactly as
//! `format!` renders the same template with the same Rust values.
//!
//! # The template
//!
//! ```text
//! {N}  or  {N:spec}        N = the slot index, decimal
//! spec  = [[fill]align][sign]['#']['0'][width]['.' precision][type]
//! align = '<' | '^' | '>'      sign = '+' | '-'
//! width = count                precision = count      count = decimal | N'$'
//! type  = '' | '?' | 'x?' | 'X?' | 'x' | 'X' | 'o' | 'b' | 'e' | 'E' | 'p'
//! ```
//!
//! `{{` and `}}` are literal braces, everything else literal text. The parser
//! follows rustc's (`rustc_parse_format`) rule by rule, so that every
//! placeholder of this shape that `format_args!` accepts parses, with the
//! same meaning: the fill is any character followed by an alignment (a brace
//! too: `{0:}>5}`); a `0` is the zero flag unless a `$` follows it (`{0:0$}`
//! takes its width from slot 0); whitespace may follow the slot index and
//! end the placeholder (`{0 :x }`); a `.` with no count after it is no
//! precision; a number above `u16::MAX` is an error. What a canonical
//! template cannot hold is an error too: a placeholder or precision that
//! takes its argument implicitly (`{}`, `{:x}`, `.*`) or by name (`{id}`,
//! `{0:w$}`). Untrusted bytes can hold anything: every template that is not
//! well-formed is a [`TemplateError`], never a panic.
//!
//! # Formatting
//!
//! std takes a format spec only at compile time, but its width and precision
//! also at run time (`{0:1$.2$}`): [`write_std`] holds the literal format
//! string of every combination of the `+`, `#` and `0` flags, a precision or
//! none, and the type, and picks the placeholder's. The fill and the
//! alignment, which std cannot take at run time, are applied here exactly as
//! std applies them, which depends on the value ([`Padding`]):
//!
//! * Integers and floats (every type): std pads the sign, the prefix and the
//!   digits as one, on the right by default; with the `0` flag it writes the
//!   sign and prefix first and zeros up to the width, and ignores the fill
//!   and alignment. So with `0`, std takes the width; without, std writes
//!   the value with no width and it is padded here.
//! * Strings, chars and bools as `Display` (and bools as `Debug`, which is
//!   their `Display`): std's `Formatter::pad` cuts the text at the precision
//!   (std does that) and pads it, on the left by default, ignoring the `0`
//!   flag: padded here.
//! * Strings and chars as `Debug`: std quotes and escapes them and ignores
//!   width, precision, fill and alignment: std writes them.
//! * Bytes (`&[u8]`) take only `?`, `x?` and `X?`: a list as `[T]`'s `Debug`
//!   writes it, every byte formatted as a `u8` with the whole spec; with `#`,
//!   one byte a line, each line indented by four spaces as std's pretty
//!   printer indents (a fill of `\n` included).
//! * Text values (an argument the event carries already formatted with its
//!   placeholder's spec) take every type and are inserted as they are; the
//!   values of their width and precision slots are not read.
//!
//! The `-` flag is parsed and, as std does, ignored. A value that cannot
//! take its placeholder's type (`{:x}` of a string, `{:e}` of a bool, `{:p}`
//! of anything but text) is an error, and so is a float in exponent form
//! with a precision of `u16::MAX`, which std does not format: the decoder
//! then shows the template and the raw values instead.
//!
//! # Bounds
//!
//! [`render`] appends at most [`MAX_MESSAGE`] bytes: past that it stops and
//! returns [`TemplateError::TooLong`], what fit written. Widths and
//! precisions are at most `u16::MAX`, and nothing is allocated but the
//! output: the text a width pads is measured by formatting it once into a
//! counter, then again into the output.

use std::fmt::{self, Write};

/// The most bytes [`render`] appends for one message.
pub(crate) const MAX_MESSAGE: usize = 1 << 20;

/// A slot's value, as a macro event carries it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Arg<'a> {
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    U64(u64),
    U128(u128),
    F32(f32),
    F64(f64),
    Bool(bool),
    Char(char),
    Str(&'a str),
    Bytes(&'a [u8]),
    /// Already formatted with its placeholder's spec: inserted verbatim.
    Text(&'a str),
}

impl Arg<'_> {
    /// The value's type, as an error names it.
    fn kind(&self) -> &'static str {
        match self {
            Arg::I8(_) => "i8",
            Arg::I16(_) => "i16",
            Arg::I32(_) => "i32",
            Arg::I64(_) => "i64",
            Arg::I128(_) => "i128",
            Arg::U64(_) => "u64",
            Arg::U128(_) => "u128",
            Arg::F32(_) => "f32",
            Arg::F64(_) => "f64",
            Arg::Bool(_) => "bool",
            Arg::Char(_) => "char",
            Arg::Str(_) => "str",
            Arg::Bytes(_) => "bytes",
            Arg::Text(_) => "text",
        }
    }

    /// The value as a width or precision: an integer in `0..=u16::MAX`.
    fn count(&self) -> Option<usize> {
        let value = match *self {
            Arg::I8(v) => i128::from(v),
            Arg::I16(v) => i128::from(v),
            Arg::I32(v) => i128::from(v),
            Arg::I64(v) => i128::from(v),
            Arg::I128(v) => v,
            Arg::U64(v) => i128::from(v),
            Arg::U128(v) => i128::try_from(v).ok()?,
            _ => return None,
        };
        u16::try_from(value).ok().map(usize::from)
    }
}

/// Why a template did not render (or rendered only in part).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// The template ends inside the placeholder opened at byte `at`.
    Unclosed { at: usize },
    /// A `}` at byte `at` that neither doubles (`}}`) nor closes a placeholder.
    UnmatchedClose { at: usize },
    /// A character a placeholder cannot hold where it is.
    Unexpected { at: usize, found: char },
    /// A placeholder (`{}`, `{:x}`) or precision (`.*`) at byte `at` that
    /// takes its argument implicitly: a template names every slot.
    Implicit { at: usize },
    /// A name at byte `at` where a template has a slot index (`{id}`, `w$`).
    Named { at: usize },
    /// A type at byte `at` that names none of Rust's formatting traits.
    UnknownType { at: usize },
    /// A slot index, width or precision at byte `at` above `u16::MAX`.
    TooLarge { at: usize },
    /// The placeholder at byte `at` asks for a float's exponent form (`e`,
    /// `E`) with a precision of `u16::MAX`, which std does not format (Rust
    /// 1.95's panics).
    ExpPrecision { at: usize },
    /// The placeholder at byte `at` refers to slot `slot`, and there are
    /// only `slots`.
    NoSlot {
        at: usize,
        slot: usize,
        slots: usize,
    },
    /// The width or precision of the placeholder at byte `at` is slot
    /// `slot`, which does not hold an integer in `0..=u16::MAX`.
    BadCount { at: usize, slot: usize },
    /// Slot `slot`, a `value`, cannot take the type of the placeholder at
    /// byte `at` (`{:x}` of a string).
    WrongType {
        at: usize,
        slot: usize,
        value: &'static str,
        ty: &'static str,
    },
    /// The message reached [`MAX_MESSAGE`] bytes: what fit is written.
    TooLong,
    /// Slot `slot` (the first of them) is missing: the event was cut to fit
    /// the ring. The placeholders that need a missing slot render as
    /// nothing, every other one as usual.
    Missing { slot: usize },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TemplateError::Unclosed { at } => {
                write!(f, "the placeholder opened at byte {at} is not closed")
            }
            TemplateError::UnmatchedClose { at } => write!(
                f,
                "unmatched `}}` at byte {at} (a literal brace is written `}}}}`)"
            ),
            TemplateError::Unexpected { at, found } => {
                write!(f, "unexpected {found:?} at byte {at} in a placeholder")
            }
            TemplateError::Implicit { at } => write!(
                f,
                "the placeholder at byte {at} takes an argument implicitly \
                 (a template names every slot: `{{N}}`, `N$`)"
            ),
            TemplateError::Named { at } => {
                write!(f, "a name at byte {at} where a slot index belongs")
            }
            TemplateError::UnknownType { at } => write!(f, "unknown format type at byte {at}"),
            TemplateError::TooLarge { at } => {
                write!(f, "the number at byte {at} is above {}", u16::MAX)
            }
            TemplateError::ExpPrecision { at } => write!(
                f,
                "the placeholder at byte {at} asks for a float's exponent form with {} decimals",
                u16::MAX
            ),
            TemplateError::NoSlot { at, slot, slots } => write!(
                f,
                "the placeholder at byte {at} refers to slot {slot}, of {slots} slots"
            ),
            TemplateError::BadCount { at, slot } => write!(
                f,
                "the width or precision of the placeholder at byte {at} is slot {slot}, \
                 which holds no integer in 0..={}",
                u16::MAX
            ),
            TemplateError::WrongType {
                at,
                slot,
                value,
                ty,
            } => write!(
                f,
                "slot {slot} ({value}) cannot be formatted with `{ty}` \
                 (the placeholder at byte {at})"
            ),
            TemplateError::TooLong => write!(f, "the message is cut at {MAX_MESSAGE} bytes"),
            TemplateError::Missing { slot } => write!(
                f,
                "slot {slot} is missing (the event was truncated): its placeholder is empty"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

/// Renders `template` with `slots`, appending the message to `out`.
///
/// `None` is a slot the event did not carry (it was truncated): every
/// placeholder that needs it (as its value, width or precision) renders as
/// nothing, the rest of the template renders as usual, and the result is
/// `Err(Missing { slot })` naming the first such slot. Any other error stops
/// rendering where it is found and is returned instead (a malformed template,
/// a slot out of range, a bad width or precision, a value that cannot take
/// its type, or [`TooLong`](TemplateError::TooLong) where the message
/// would pass [`MAX_MESSAGE`] bytes); what was rendered before it stays in
/// `out`.
pub(crate) fn render(
    template: &str,
    slots: &[Option<Arg<'_>>],
    out: &mut String,
) -> Result<(), TemplateError> {
    let mut out = Bounded::new(out);
    let mut missing = None;
    for piece in Pieces::new(template) {
        match piece? {
            Piece::Literal(text) => out.write_str(text).map_err(|_| TemplateError::TooLong)?,
            Piece::Placeholder(placeholder) => {
                if let Rendered::Missing(slot) = placeholder.render(slots, &mut out)? {
                    missing.get_or_insert(slot);
                }
            }
        }
    }
    match missing {
        Some(slot) => Err(TemplateError::Missing { slot }),
        None => Ok(()),
    }
}

/// Checks `template` without values: every placeholder well-formed, and
/// every slot it refers to (value, width, precision) below `slots`.
#[cfg(any(test, fuzzing))]
pub(crate) fn check(template: &str, slots: usize) -> Result<(), TemplateError> {
    for piece in Pieces::new(template) {
        if let Piece::Placeholder(placeholder) = piece? {
            placeholder.check_slots(slots)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// A part of a template.
#[derive(Debug, PartialEq)]
enum Piece<'t> {
    /// Text written as it is (`{{` and `}}` come as `{` and `}`).
    Literal(&'t str),
    Placeholder(Placeholder),
}

/// A placeholder, parsed.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Placeholder {
    /// The byte offset of its `{`.
    at: usize,
    /// The slot of its value.
    slot: u16,
    spec: Spec,
}

/// A placeholder's format spec.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Spec {
    fill: char,
    align: Option<Align>,
    /// The `+` flag (`-` is parsed and ignored, as std ignores it).
    plus: bool,
    /// The `#` flag.
    alternate: bool,
    /// The `0` flag.
    zero: bool,
    width: Option<Count>,
    precision: Option<Count>,
    ty: Type,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            fill: ' ',
            align: None,
            plus: false,
            alternate: false,
            zero: false,
            width: None,
            precision: None,
            ty: Type::Display,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Align {
    Left,
    Center,
    Right,
}

/// A width or precision.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Count {
    /// Written in the template.
    Is(u16),
    /// The value of a slot (`N$`).
    Slot(u16),
}

/// A placeholder's type: the formatting trait it calls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Type {
    Display,
    Debug,
    LowerDebugHex,
    UpperDebugHex,
    LowerHex,
    UpperHex,
    Octal,
    Binary,
    LowerExp,
    UpperExp,
    Pointer,
}

impl Type {
    /// The type as a placeholder, as an error names it.
    fn placeholder(self) -> &'static str {
        match self {
            Type::Display => "{}",
            Type::Debug => "{:?}",
            Type::LowerDebugHex => "{:x?}",
            Type::UpperDebugHex => "{:X?}",
            Type::LowerHex => "{:x}",
            Type::UpperHex => "{:X}",
            Type::Octal => "{:o}",
            Type::Binary => "{:b}",
            Type::LowerExp => "{:e}",
            Type::UpperExp => "{:E}",
            Type::Pointer => "{:p}",
        }
    }

    /// `true` for the `Debug` types (`?`, `x?`, `X?`).
    fn is_debug(self) -> bool {
        matches!(
            self,
            Type::Debug | Type::LowerDebugHex | Type::UpperDebugHex
        )
    }
}

/// The pieces of a template, in order; after an error, nothing more.
struct Pieces<'t> {
    template: &'t str,
    /// Where the next piece starts.
    pos: usize,
}

impl<'t> Pieces<'t> {
    fn new(template: &'t str) -> Pieces<'t> {
        Pieces { template, pos: 0 }
    }

    /// The piece at `self.pos`, which is before the end.
    fn piece(&mut self) -> Result<Piece<'t>, TemplateError> {
        let rest = &self.template[self.pos..];
        let start = self.pos;
        if rest.starts_with("{{") || rest.starts_with("}}") {
            self.pos += 2;
            return Ok(Piece::Literal(&rest[..1]));
        }
        if rest.starts_with('}') {
            return Err(TemplateError::UnmatchedClose { at: start });
        }
        if rest.starts_with('{') {
            let mut cursor = Cursor {
                text: self.template,
                pos: start + 1,
            };
            let placeholder = cursor.placeholder(start)?;
            self.pos = cursor.pos;
            return Ok(Piece::Placeholder(placeholder));
        }
        let len = rest.find(['{', '}']).unwrap_or(rest.len());
        self.pos += len;
        Ok(Piece::Literal(&rest[..len]))
    }
}

impl<'t> Iterator for Pieces<'t> {
    type Item = Result<Piece<'t>, TemplateError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.template.len() {
            return None;
        }
        let piece = self.piece();
        if piece.is_err() {
            self.pos = self.template.len();
        }
        Some(piece)
    }
}

/// A position in a template, inside a placeholder.
struct Cursor<'t> {
    text: &'t str,
    /// A char boundary of `text`.
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.pos..].chars().nth(1)
    }

    /// Steps past the next char, if any.
    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    /// Steps past `c` if it is next.
    fn eat(&mut self, c: char) -> bool {
        let next = self.peek() == Some(c);
        if next {
            self.bump();
        }
        next
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// The error for what is next, in the placeholder opened at `open`.
    fn unexpected(&self, open: usize) -> TemplateError {
        match self.peek() {
            Some(found) => TemplateError::Unexpected {
                at: self.pos,
                found,
            },
            None => TemplateError::Unclosed { at: open },
        }
    }

    /// A decimal number, if one is next; all its digits are consumed even
    /// when it is too large (as rustc does, which then refuses it).
    fn integer(&mut self) -> Result<Option<u16>, TemplateError> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            value = (value * 10 + digit).min(u32::from(u16::MAX) + 1);
            self.bump();
        }
        if self.pos == start {
            return Ok(None);
        }
        u16::try_from(value)
            .map(Some)
            .map_err(|_| TemplateError::TooLarge { at: start })
    }

    /// Steps past an identifier (rustc's "word"), if one is next.
    fn word(&mut self) -> &str {
        let start = self.pos;
        if self.peek().is_some_and(is_word_start) {
            self.bump();
            while self.peek().is_some_and(is_word_char) {
                self.bump();
            }
        }
        &self.text[start..self.pos]
    }

    /// The placeholder whose `{` is at `open`, the cursor just after it;
    /// leaves the cursor after its `}`.
    fn placeholder(&mut self, open: usize) -> Result<Placeholder, TemplateError> {
        let slot = match (self.integer()?, self.peek()) {
            (Some(slot), _) => slot,
            (None, None) => return Err(TemplateError::Unclosed { at: open }),
            (None, Some(c)) if is_word_start(c) => {
                return Err(TemplateError::Named { at: self.pos });
            }
            (None, Some(_)) => return Err(TemplateError::Implicit { at: open }),
        };
        self.skip_whitespace();
        let spec = if self.eat(':') {
            self.spec()?
        } else {
            Spec::default()
        };
        self.skip_whitespace();
        if !self.eat('}') {
            return Err(self.unexpected(open));
        }
        Ok(Placeholder {
            at: open,
            slot,
            spec,
        })
    }

    /// The spec after a placeholder's `:`, in rustc's order.
    fn spec(&mut self) -> Result<Spec, TemplateError> {
        let mut spec = Spec::default();
        if let (Some(fill), Some('<' | '^' | '>')) = (self.peek(), self.peek_second()) {
            spec.fill = fill;
            self.bump();
        }
        spec.align = if self.eat('<') {
            Some(Align::Left)
        } else if self.eat('^') {
            Some(Align::Center)
        } else if self.eat('>') {
            Some(Align::Right)
        } else {
            None
        };
        spec.plus = self.eat('+');
        if !spec.plus {
            self.eat('-');
        }
        spec.alternate = self.eat('#');
        // A `0` followed by `$` is the width `0$`, not the flag.
        if self.eat('0') {
            if self.eat('$') {
                spec.width = Some(Count::Slot(0));
            } else {
                spec.zero = true;
            }
        }
        if spec.width.is_none() {
            spec.width = self.count()?;
        }
        if self.eat('.') {
            if self.peek() == Some('*') {
                return Err(TemplateError::Implicit { at: self.pos });
            }
            spec.precision = self.count()?;
        }
        spec.ty = self.ty()?;
        Ok(spec)
    }

    /// A width or precision, if one is next: `N` or `N$`.
    fn count(&mut self) -> Result<Option<Count>, TemplateError> {
        let start = self.pos;
        if let Some(n) = self.integer()? {
            return Ok(Some(if self.eat('$') {
                Count::Slot(n)
            } else {
                Count::Is(n)
            }));
        }
        // `name$`; a word not followed by `$` is the type, read next.
        if !self.word().is_empty() && self.peek() == Some('$') {
            return Err(TemplateError::Named { at: start });
        }
        self.pos = start;
        Ok(None)
    }

    /// The type, at the end of a spec.
    fn ty(&mut self) -> Result<Type, TemplateError> {
        let start = self.pos;
        if self.eat('x') {
            return Ok(if self.eat('?') {
                Type::LowerDebugHex
            } else {
                Type::LowerHex
            });
        }
        if self.eat('X') {
            return Ok(if self.eat('?') {
                Type::UpperDebugHex
            } else {
                Type::UpperHex
            });
        }
        if self.eat('?') {
            return Ok(Type::Debug);
        }
        Ok(match self.word() {
            "" => Type::Display,
            "o" => Type::Octal,
            "b" => Type::Binary,
            "e" => Type::LowerExp,
            "E" => Type::UpperExp,
            "p" => Type::Pointer,
            _ => return Err(TemplateError::UnknownType { at: start }),
        })
    }
}

/// Whether `c` starts an identifier (rustc: `_` or XID_Start; what differs
/// between the two only changes which error a malformed template gets).
fn is_word_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// Whether `c` continues an identifier (rustc: XID_Continue).
fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

// ---------------------------------------------------------------------------
// Rendering a placeholder
// ---------------------------------------------------------------------------

/// What rendering a placeholder did.
enum Rendered {
    Written,
    /// Nothing: the slot it needs is missing.
    Missing(usize),
}

impl Placeholder {
    /// Checks that the slots the placeholder refers to are below `slots`.
    fn check_slots(&self, slots: usize) -> Result<(), TemplateError> {
        let counts = [self.spec.width, self.spec.precision];
        let count_slots = counts.into_iter().filter_map(|count| match count {
            Some(Count::Slot(slot)) => Some(slot),
            _ => None,
        });
        match std::iter::once(self.slot)
            .chain(count_slots)
            .find(|&slot| usize::from(slot) >= slots)
        {
            Some(slot) => Err(TemplateError::NoSlot {
                at: self.at,
                slot: slot.into(),
                slots,
            }),
            None => Ok(()),
        }
    }

    /// A width or precision's value; `None` if its slot is missing.
    fn count(
        &self,
        count: Count,
        slots: &[Option<Arg<'_>>],
    ) -> Result<Option<usize>, TemplateError> {
        let slot = match count {
            Count::Is(n) => return Ok(Some(n.into())),
            Count::Slot(slot) => usize::from(slot),
        };
        match &slots[slot] {
            None => Ok(None),
            Some(arg) => arg
                .count()
                .map(Some)
                .ok_or(TemplateError::BadCount { at: self.at, slot }),
        }
    }

    /// Renders the placeholder with `slots` into `out`.
    fn render(
        &self,
        slots: &[Option<Arg<'_>>],
        out: &mut dyn Write,
    ) -> Result<Rendered, TemplateError> {
        self.check_slots(slots.len())?;
        let slot = usize::from(self.slot);
        let Some(value) = &slots[slot] else {
            return Ok(Rendered::Missing(slot));
        };
        if let Arg::Text(text) = value {
            out.write_str(text).map_err(|_| TemplateError::TooLong)?;
            return Ok(Rendered::Written);
        }
        let (width, precision) = (self.spec.width, self.spec.precision);
        let width = match width.map(|count| self.count(count, slots)).transpose()? {
            Some(None) => return Ok(Rendered::Missing(count_slot(width))),
            Some(Some(width)) => width,
            None => 0,
        };
        let precision = match precision
            .map(|count| self.count(count, slots))
            .transpose()?
        {
            Some(None) => return Ok(Rendered::Missing(count_slot(precision))),
            precision => precision.flatten(),
        };
        let plan = Plan::of(value, self.spec.ty).ok_or(TemplateError::WrongType {
            at: self.at,
            slot,
            value: value.kind(),
            ty: self.spec.ty.placeholder(),
        })?;
        let float = matches!(value, Arg::F32(_) | Arg::F64(_));
        let exp = matches!(self.spec.ty, Type::LowerExp | Type::UpperExp);
        if float && exp && precision == Some(u16::MAX.into()) {
            return Err(TemplateError::ExpPrecision { at: self.at });
        }
        let options = Options {
            spec: self.spec,
            width,
            precision,
        };
        plan.write(out, &options)
            .map_err(|_| TemplateError::TooLong)?;
        Ok(Rendered::Written)
    }
}

/// The slot of a width or precision that is a slot's value.
fn count_slot(count: Option<Count>) -> usize {
    match count {
        Some(Count::Slot(slot)) => slot.into(),
        // A count written in the template is never missing.
        _ => 0,
    }
}

/// A spec with its width and precision read.
struct Options {
    spec: Spec,
    /// 0 for none (std pads nothing for either).
    width: usize,
    precision: Option<usize>,
}

/// Who applies the width to a value std writes (see the module's docs).
#[derive(Clone, Copy)]
enum Padding {
    /// An integer or a float: std with the `0` flag, otherwise here,
    /// on the right by default.
    Numeric,
    /// A string, char or bool through `Formatter::pad`: here, on the left by
    /// default.
    Text,
    /// Quoted strings and chars: std, which pads nothing.
    Std,
}

/// How a value takes a type.
enum Plan<'v> {
    /// Written by std's implementation of the type's trait.
    Std(Impl<'v>, Padding),
    /// A list of bytes, each written as a `u8` of the (`Debug`) type.
    Bytes(&'v [u8], Type),
}

impl<'v> Plan<'v> {
    /// How `value` takes `ty`; `None` if it cannot. (Text values never get
    /// here: they take every type as they are.)
    fn of(value: &'v Arg<'_>, ty: Type) -> Option<Plan<'v>> {
        let numeric = |imp| Plan::Std(imp, Padding::Numeric);
        let text = |imp| Plan::Std(imp, Padding::Text);
        let quoted = |imp| {
            let padding = if ty.is_debug() {
                Padding::Std
            } else {
                Padding::Text
            };
            Plan::Std(imp, padding)
        };
        match value {
            Arg::I8(v) => Impl::integer(v, ty).map(numeric),
            Arg::I16(v) => Impl::integer(v, ty).map(numeric),
            Arg::I32(v) => Impl::integer(v, ty).map(numeric),
            Arg::I64(v) => Impl::integer(v, ty).map(numeric),
            Arg::I128(v) => Impl::integer(v, ty).map(numeric),
            Arg::U64(v) => Impl::integer(v, ty).map(numeric),
            Arg::U128(v) => Impl::integer(v, ty).map(numeric),
            Arg::F32(v) => Impl::float(v, ty).map(numeric),
            Arg::F64(v) => Impl::float(v, ty).map(numeric),
            // A bool's `Debug` is its `Display`: padded as text.
            Arg::Bool(v) => Impl::text(v, ty).map(text),
            Arg::Char(v) => Impl::text(v, ty).map(quoted),
            Arg::Str(v) => Impl::text(v, ty).map(quoted),
            Arg::Bytes(bytes) => ty.is_debug().then_some(Plan::Bytes(bytes, ty)),
            Arg::Text(_) => None,
        }
    }

    fn write(&self, out: &mut dyn Write, options: &Options) -> fmt::Result {
        match *self {
            Plan::Std(imp, padding) => write_padded(out, imp, padding, options),
            Plan::Bytes(bytes, ty) => write_bytes(out, bytes, ty, options),
        }
    }
}

/// A value as one of std's formatting traits.
#[derive(Clone, Copy)]
enum Impl<'v> {
    Display(&'v dyn fmt::Display),
    Debug(&'v dyn fmt::Debug),
    LowerDebugHex(&'v dyn fmt::Debug),
    UpperDebugHex(&'v dyn fmt::Debug),
    LowerHex(&'v dyn fmt::LowerHex),
    UpperHex(&'v dyn fmt::UpperHex),
    Octal(&'v dyn fmt::Octal),
    Binary(&'v dyn fmt::Binary),
    LowerExp(&'v dyn fmt::LowerExp),
    UpperExp(&'v dyn fmt::UpperExp),
}

impl<'v> Impl<'v> {
    /// An integer, which takes every type but `p`.
    fn integer<T>(v: &'v T, ty: Type) -> Option<Impl<'v>>
    where
        T: fmt::Display
            + fmt::Debug
            + fmt::LowerHex
            + fmt::UpperHex
            + fmt::Octal
            + fmt::Binary
            + fmt::LowerExp
            + fmt::UpperExp,
    {
        Some(match ty {
            Type::LowerHex => Impl::LowerHex(v),
            Type::UpperHex => Impl::UpperHex(v),
            Type::Octal => Impl::Octal(v),
            Type::Binary => Impl::Binary(v),
            Type::LowerExp => Impl::LowerExp(v),
            Type::UpperExp => Impl::UpperExp(v),
            ty => return Impl::text(v, ty),
        })
    }

    /// A float: `Display`, `Debug` and the exponents.
    fn float<T>(v: &'v T, ty: Type) -> Option<Impl<'v>>
    where
        T: fmt::Display + fmt::Debug + fmt::LowerExp + fmt::UpperExp,
    {
        Some(match ty {
            Type::LowerExp => Impl::LowerExp(v),
            Type::UpperExp => Impl::UpperExp(v),
            ty => return Impl::text(v, ty),
        })
    }

    /// Anything: `Display` and `Debug`.
    fn text<T: fmt::Display + fmt::Debug>(v: &'v T, ty: Type) -> Option<Impl<'v>> {
        Some(match ty {
            Type::Display => Impl::Display(v),
            Type::Debug => Impl::Debug(v),
            Type::LowerDebugHex => Impl::LowerDebugHex(v),
            Type::UpperDebugHex => Impl::UpperDebugHex(v),
            _ => return None,
        })
    }
}

/// Writes `imp` with `options`, padded by whoever `padding` says.
fn write_padded(
    out: &mut dyn Write,
    imp: Impl<'_>,
    padding: Padding,
    options: &Options,
) -> fmt::Result {
    let unpadded = |out: &mut dyn Write| write_std(out, imp, options, 0);
    match padding {
        Padding::Numeric if options.spec.zero => write_std(out, imp, options, options.width),
        Padding::Std => write_std(out, imp, options, options.width),
        Padding::Numeric => pad(out, options, Align::Right, unpadded),
        Padding::Text => pad(out, options, Align::Left, unpadded),
    }
}

/// Writes what `content` writes, padded to the width with the fill, on the
/// side the alignment (or else `default`) says, as std's
/// `Formatter::padding` does: the width counts chars.
fn pad(
    out: &mut dyn Write,
    options: &Options,
    default: Align,
    content: impl Fn(&mut dyn Write) -> fmt::Result,
) -> fmt::Result {
    let padding = if options.width == 0 {
        0
    } else {
        let mut chars = CharCount(0);
        content(&mut chars)?;
        options.width.saturating_sub(chars.0)
    };
    let before = match options.spec.align.unwrap_or(default) {
        Align::Left => 0,
        Align::Center => padding / 2,
        Align::Right => padding,
    };
    let fill = options.spec.fill;
    repeat_char(out, fill, before)?;
    content(out)?;
    repeat_char(out, fill, padding - before)
}

fn repeat_char(out: &mut dyn Write, c: char, n: usize) -> fmt::Result {
    (0..n).try_for_each(|_| out.write_char(c))
}

/// Writes `bytes` as `<[u8] as Debug>` does (`debug_list`), each byte as a
/// `u8` of the `Debug` type `ty` with `options`; with `#`, one a line.
fn write_bytes(out: &mut dyn Write, bytes: &[u8], ty: Type, options: &Options) -> fmt::Result {
    out.write_char('[')?;
    for (i, byte) in bytes.iter().enumerate() {
        let element = Impl::text(byte, ty).ok_or(fmt::Error)?;
        if options.spec.alternate {
            if i == 0 {
                out.write_char('\n')?;
            }
            let mut indented = Indented {
                out: &mut *out,
                on_newline: true,
            };
            write_padded(&mut indented, element, Padding::Numeric, options)?;
            indented.write_str(",\n")?;
        } else {
            if i > 0 {
                out.write_str(", ")?;
            }
            write_padded(out, element, Padding::Numeric, options)?;
        }
    }
    out.write_char(']')
}

/// `write!(out, "{0:<flags>1$[.2$]<ty>}", v, width[, precision])` with the
/// literal flags (`+`, `#`, `0`) of `options` and its precision, if any.
macro_rules! write_flagged {
    ($out:ident, $v:ident, $options:ident, $width:ident, $ty:literal) => {
        write_flagged!(@arms $out, $v, $options, $width, $ty;
            (false, false, false) "",
            (false, false, true) "0",
            (false, true, false) "#",
            (false, true, true) "#0",
            (true, false, false) "+",
            (true, false, true) "+0",
            (true, true, false) "+#",
            (true, true, true) "+#0",
        )
    };
    (@arms $out:ident, $v:ident, $options:ident, $width:ident, $ty:literal;
        $(($plus:literal, $alternate:literal, $zero:literal) $flags:literal,)*) => {{
        let spec = &$options.spec;
        match (spec.plus, spec.alternate, spec.zero, $options.precision) {
            $(
                ($plus, $alternate, $zero, None) => {
                    write!($out, concat!("{0:", $flags, "1$", $ty, "}"), $v, $width)
                }
                ($plus, $alternate, $zero, Some(precision)) => write!(
                    $out,
                    concat!("{0:", $flags, "1$.2$", $ty, "}"),
                    $v,
                    $width,
                    precision
                ),
            )*
        }
    }};
}

/// Writes `imp` with std, with the spec's flags and precision and the
/// width `width`.
fn write_std(out: &mut dyn Write, imp: Impl<'_>, options: &Options, width: usize) -> fmt::Result {
    match imp {
        Impl::Display(v) => write_flagged!(out, v, options, width, ""),
        Impl::Debug(v) => write_flagged!(out, v, options, width, "?"),
        Impl::LowerDebugHex(v) => write_flagged!(out, v, options, width, "x?"),
        Impl::UpperDebugHex(v) => write_flagged!(out, v, options, width, "X?"),
        Impl::LowerHex(v) => write_flagged!(out, v, options, width, "x"),
        Impl::UpperHex(v) => write_flagged!(out, v, options, width, "X"),
        Impl::Octal(v) => write_flagged!(out, v, options, width, "o"),
        Impl::Binary(v) => write_flagged!(out, v, options, width, "b"),
        Impl::LowerExp(v) => write_flagged!(out, v, options, width, "e"),
        Impl::UpperExp(v) => write_flagged!(out, v, options, width, "E"),
    }
}

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

/// A string that takes at most [`MAX_MESSAGE`] more bytes: a write that does
/// not fit writes what does (whole chars) and fails, as does every write
/// after it.
struct Bounded<'o> {
    out: &'o mut String,
    /// The length `out` may reach.
    limit: usize,
}

impl<'o> Bounded<'o> {
    fn new(out: &'o mut String) -> Bounded<'o> {
        let limit = out.len().saturating_add(MAX_MESSAGE);
        Bounded { out, limit }
    }
}

impl Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.limit - self.out.len();
        if s.len() <= room {
            self.out.push_str(s);
            return Ok(());
        }
        let mut fits = room;
        while !s.is_char_boundary(fits) {
            fits -= 1;
        }
        self.out.push_str(&s[..fits]);
        // Nothing more fits, not even a shorter char.
        self.limit = self.out.len();
        Err(fmt::Error)
    }
}

/// Counts the chars written to it.
struct CharCount(usize);

impl Write for CharCount {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.chars().count();
        Ok(())
    }
}

/// Indents every line written through it by four spaces, as std's pretty
/// printer (`PadAdapter`) indents the entries of a list.
struct Indented<'w> {
    out: &'w mut dyn Write,
    /// Whether the next char starts a line.
    on_newline: bool,
}

impl Write for Indented<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for line in s.split_inclusive('\n') {
            if self.on_newline {
                self.out.write_str("    ")?;
            }
            self.on_newline = line.ends_with('\n');
            self.out.write_str(line)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Fuzzing
// ---------------------------------------------------------------------------

/// Renders a template with slots, both read from `bytes`, checks what
/// [`render`] promises, and returns the message and the error (if any).
/// For the fuzz targets.
///
/// `bytes`: a `u16` length (little-endian), that many bytes of template
/// (invalid UTF-8 replaced), then slots to the end, each a kind byte and its
/// value: 0 missing, 1 to 7 `i8`, `i16`, `i32`, `i64`, `i128`, `u64`,
/// `u128` (little-endian), 8 `f32` and 9 `f64` (their bits), 10 `bool` (a
/// byte), 11 `char` (a `u32`; missing if not a char), and 12 `str`, 13
/// bytes, 14 text (each a length byte and that many bytes, strings up to
/// their first invalid UTF-8); a kind above 14 is taken modulo 15. A slot
/// cut short by the end of `bytes` is left out.
///
/// # Panics
///
/// If rendering breaks a promise: more than [`MAX_MESSAGE`] bytes appended,
/// the text before the output touched, or [`check`] and [`render`]
/// disagreeing about the template.
#[cfg(fuzzing)]
pub fn fuzz_template(bytes: &[u8]) -> String {
    let (template, slots) = fuzz_input(bytes);
    fuzz_render(&template, &slots)
}

/// The template and slots [`fuzz_template`] reads from `bytes`.
#[cfg(any(test, fuzzing))]
fn fuzz_input(bytes: &[u8]) -> (String, Vec<Option<Arg<'_>>>) {
    let Some((len, rest)) = bytes.split_first_chunk::<2>() else {
        return (String::new(), Vec::new());
    };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (template, mut rest) = rest.split_at(len);
    let template = String::from_utf8_lossy(template).into_owned();
    let mut slots = Vec::new();
    while let Some((&kind, after)) = rest.split_first() {
        let Some((slot, after)) = fuzz_slot(kind % 15, after) else {
            break;
        };
        slots.push(slot);
        rest = after;
    }
    (template, slots)
}

/// One slot of kind `kind` read from `bytes`, and what follows it.
#[cfg(any(test, fuzzing))]
fn fuzz_slot(kind: u8, bytes: &[u8]) -> Option<(Option<Arg<'_>>, &[u8])> {
    fn take<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
        bytes.split_first_chunk::<N>().map(|(a, rest)| (*a, rest))
    }
    fn sized(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&len, rest) = bytes.split_first()?;
        (rest.len() >= usize::from(len)).then(|| rest.split_at(len.into()))
    }
    fn valid(bytes: &[u8]) -> &str {
        match std::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
        }
    }
    let (arg, rest) = match kind {
        0 => return Some((None, bytes)),
        1 => take(bytes).map(|(b, r)| (Arg::I8(i8::from_le_bytes(b)), r))?,
        2 => take(bytes).map(|(b, r)| (Arg::I16(i16::from_le_bytes(b)), r))?,
        3 => take(bytes).map(|(b, r)| (Arg::I32(i32::from_le_bytes(b)), r))?,
        4 => take(bytes).map(|(b, r)| (Arg::I64(i64::from_le_bytes(b)), r))?,
        5 => take(bytes).map(|(b, r)| (Arg::I128(i128::from_le_bytes(b)), r))?,
        6 => take(bytes).map(|(b, r)| (Arg::U64(u64::from_le_bytes(b)), r))?,
        7 => take(bytes).map(|(b, r)| (Arg::U128(u128::from_le_bytes(b)), r))?,
        8 => take(bytes).map(|(b, r)| (Arg::F32(f32::from_le_bytes(b)), r))?,
        9 => take(bytes).map(|(b, r)| (Arg::F64(f64::from_le_bytes(b)), r))?,
        10 => take(bytes).map(|([b], r)| (Arg::Bool(b & 1 == 1), r))?,
        11 => {
            let (b, r) = take(bytes)?;
            return Some((char::from_u32(u32::from_le_bytes(b)).map(Arg::Char), r));
        }
        12 => sized(bytes).map(|(s, r)| (Arg::Str(valid(s)), r))?,
        13 => sized(bytes).map(|(s, r)| (Arg::Bytes(s), r))?,
        _ => sized(bytes).map(|(s, r)| (Arg::Text(valid(s)), r))?,
    };
    Some((Some(arg), rest))
}

/// Renders `template` with `slots` after a prefix, checks the promises, and
/// returns the message and the error (if any).
#[cfg(any(test, fuzzing))]
fn fuzz_render(template: &str, slots: &[Option<Arg<'_>>]) -> String {
    const PREFIX: &str = "before: ";
    let mut out = String::from(PREFIX);
    let rendered = render(template, slots, &mut out);
    assert!(out.starts_with(PREFIX), "the text before the message stays");
    assert!(
        out.len() - PREFIX.len() <= MAX_MESSAGE,
        "the message is bounded"
    );
    match (check(template, slots.len()), rendered) {
        // A template that checks fails only for its values.
        (Ok(()), Err(error)) => assert!(error.is_value_error(), "{error}"),
        // One that does not fails for that, or for a value before it.
        (Err(bad), Ok(())) => panic!("rendered a template that does not check: {bad}"),
        (Err(bad), Err(error)) => assert!(error == bad || error.is_value_error(), "{error}"),
        (Ok(()), Ok(())) => {}
    }
    if let Err(error) = rendered {
        out.push_str(" / ");
        out.push_str(&error.to_string());
    }
    out
}

#[cfg(any(test, fuzzing))]
impl TemplateError {
    /// Whether the error comes from the values, not the template: [`check`]
    /// never returns it.
    fn is_value_error(&self) -> bool {
        matches!(
            self,
            TemplateError::BadCount { .. }
                | TemplateError::WrongType { .. }
                | TemplateError::ExpPrecision { .. }
                | TemplateError::TooLong
                | TemplateError::Missing { .. }
        )
    }
}

#[cfg(test)]
mod tests;
