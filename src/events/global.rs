//! The runtime of logring's own macros (`logring::info!` and its kin): the
//! global sender they write into, the level filter, and what a call site
//! expands to (a static [`Callsite`], its arguments as [`Slot`]s).
//!
//! A call writes its callsite's dictionary id, the time, the thread and
//! each argument's bytes: integers, floats, bools and chars in binary,
//! strings and byte slices copied. The format string is registered once per
//! callsite in the ring's dictionary, and the message is formatted by
//! whoever reads the ring. An argument of any other type is formatted into
//! the record with its placeholder's spec (the slow path).

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use crate::channel::mpsc;
use crate::events::Level;
use crate::events::emit::{Emitter, Site};
use crate::ring::event::{
    self, Encoder, FieldName, FieldNames, FieldSink, FormatMeta, Meta, MetaKind,
};

/// The sender the macros write into, once set.
static GLOBAL: OnceLock<Emitter> = OnceLock::new();

/// Calls made before [`set_global`]: counted, then reported by the first
/// event that finds room after it.
static EARLY_DROPS: AtomicU64 = AtomicU64::new(0);

/// The least severe level the macros write (as its wire byte).
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// [`set_global`] was called before.
#[derive(Debug)]
pub struct SetGlobalError {
    sender: Box<mpsc::Sender>,
}

impl SetGlobalError {
    /// The sender that was not installed.
    pub fn into_sender(self) -> mpsc::Sender {
        *self.sender
    }
}

impl fmt::Display for SetGlobalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("logring's macros already write into a ring: set_global was called before")
    }
}

impl std::error::Error for SetGlobalError {}

/// Makes logring's macros (`logring::info!` and its kin) write into
/// `sender`'s ring, for the rest of the process's life. Call it once, at
/// start: a second call gives the sender back in the error.
///
/// Calls made before are dropped and counted: the first event written
/// after this call is preceded by "N events dropped". Events that find the
/// ring full are dropped and counted the same way; the calling thread never
/// waits.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (sender, receiver) = logring::channel::mpsc::new(1 << 20)?;
/// let _writer = logring::events::Writer::spawn(
///     receiver,
///     std::io::stdout(),
///     logring::events::Format::Text,
/// )?;
/// logring::events::set_global(sender)?;
/// let (id, px) = (42u64, 101.25f64);
/// logring::info!("order {} filled at {}", id, px);
/// # Ok(())
/// # }
/// ```
pub fn set_global(sender: mpsc::Sender) -> Result<(), SetGlobalError> {
    let mut sender = Some(sender);
    let emitter = GLOBAL.get_or_init(|| Emitter::new(sender.take().expect("taken once")));
    if let Some(sender) = sender {
        return Err(SetGlobalError {
            sender: Box::new(sender),
        });
    }
    hand_over_early_drops(emitter);
    Ok(())
}

/// Moves the count of calls made before [`set_global`] into the ring's
/// count of unreported drops, where the next event's notice takes it.
fn hand_over_early_drops(emitter: &Emitter) {
    // AcqRel: pairs with the AcqRel `fetch_add` of a call that found no
    // sender; whichever comes second sees the other (see `drop_early`).
    let early = EARLY_DROPS.swap(0, Ordering::AcqRel);
    if early != 0 {
        emitter.add_drops(early);
    }
}

/// The least severe level the macros write: events below it cost a load
/// and a branch. [`Level::Info`] until [`set_max_level`] sets another.
pub fn max_level() -> Level {
    // Relaxed: a filter; nothing is published through it.
    crate::ring::event::level_from_wire(MAX_LEVEL.load(Ordering::Relaxed)).unwrap_or(Level::Info)
}

/// Sets the least severe level the macros write (`Level::Trace`: all).
pub fn set_max_level(level: Level) {
    // Relaxed: a filter; calls on other threads see it soon, not at once.
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Events the macros dropped: made before [`set_global`], or that found the
/// ring full (or its receiver gone).
pub fn global_dropped() -> u64 {
    // Relaxed: counters.
    EARLY_DROPS.load(Ordering::Relaxed) + GLOBAL.get().map_or(0, Emitter::dropped)
}

// ---------------------------------------------------------------------------
// What a call site expands to. Public for the macros' expansion only.
// ---------------------------------------------------------------------------

/// Whether a call at `level` writes anything: one Relaxed load and a
/// comparison.
#[doc(hidden)]
#[inline(always)]
pub fn enabled(level: Level) -> bool {
    // Relaxed: a filter (see `set_max_level`).
    level as u8 >= MAX_LEVEL.load(Ordering::Relaxed)
}

/// What never changes at a call site, as the macro writes it.
#[doc(hidden)]
#[derive(Debug)]
pub struct CallsiteMeta {
    pub level: Level,
    pub target: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    /// The format string, every placeholder naming its slot.
    pub template: &'static str,
    /// The names of the visible slots (`arg0`, ..., or the argument's name).
    pub names: &'static [&'static str],
    /// Every slot, hidden ones included.
    pub slots: u16,
}

/// `Callsite::id` before the callsite is registered.
const UNREGISTERED: u32 = 0;
/// `Callsite::id` while one thread registers it.
const REGISTERING: u32 = u32::MAX - 1;
/// `Callsite::id` when the dictionary had no room: events carry the
/// metadata inline.
const NO_ROOM: u32 = u32::MAX;

/// A call site of one of logring's macros: a `static` each.
#[doc(hidden)]
#[derive(Debug)]
pub struct Callsite {
    meta: CallsiteMeta,
    /// Its dictionary id in the global sender's ring, or one of the values
    /// above.
    id: AtomicU32,
    /// The size of its last event: what the next claims.
    hint: AtomicU32,
}

impl Callsite {
    pub const fn new(meta: CallsiteMeta) -> Self {
        Self {
            meta,
            id: AtomicU32::new(UNREGISTERED),
            hint: AtomicU32::new(0),
        }
    }

    /// Longest callsite name written (`event FILE:LINE`); longer are cut.
    const NAME_MAX: usize = 240;

    /// The callsite as the codec writes it, with its name spelled into `name`.
    fn meta<'a>(&'a self, name: &'a mut NameBuf) -> Meta<'a> {
        let meta = &self.meta;
        Meta {
            level: meta.level,
            kind: MetaKind::Format,
            name: name.spell(meta.file, meta.line),
            target: meta.target,
            module_path: Some(meta.module_path),
            file: Some(meta.file),
            line: Some(meta.line),
            field_names: FieldNames::Slice(meta.names),
            format: Some(FormatMeta {
                slots: meta.slots,
                template: meta.template,
            }),
        }
    }

    /// Writes an event of this callsite into `emitter`'s ring.
    #[inline]
    fn emit(&self, emitter: &Emitter, body: impl Fn(&mut Encoder<'_>)) {
        // Acquire: pairs with the Release store after the dictionary entry
        // was committed, so that this thread's event, committed after it,
        // is never read before its entry.
        match self.id.load(Ordering::Acquire) {
            UNREGISTERED | REGISTERING | NO_ROOM => self.emit_unregistered(emitter, body),
            id => emitter.emit(self.meta.level, Site::Known(id, &self.hint), body),
        }
    }

    /// The first event of the callsite (which registers it), or one whose
    /// metadata goes inline.
    #[cold]
    fn emit_unregistered(&self, emitter: &Emitter, body: impl Fn(&mut Encoder<'_>)) {
        let mut name = NameBuf::new();
        let meta = self.meta(&mut name);
        // Relaxed: the winner publishes the id with Release below.
        let won = self
            .id
            .compare_exchange(
                UNREGISTERED,
                REGISTERING,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok();
        let site = if won {
            let id = emitter.register(&meta).unwrap_or(NO_ROOM);
            // Release: pairs with the Acquire load in `emit`.
            self.id.store(id, Ordering::Release);
            match id {
                NO_ROOM => Site::Inline(&meta),
                id => Site::Known(id, &self.hint),
            }
        } else {
            // Another thread registers it (this event goes inline), or the
            // dictionary had no room.
            match self.id.load(Ordering::Acquire) {
                UNREGISTERED | REGISTERING | NO_ROOM => Site::Inline(&meta),
                id => Site::Known(id, &self.hint),
            }
        };
        emitter.emit(self.meta.level, site, body);
    }
}

/// Room on the stack for a callsite's name.
struct NameBuf {
    bytes: [u8; Callsite::NAME_MAX],
    len: usize,
}

impl NameBuf {
    fn new() -> Self {
        Self {
            bytes: [0; Callsite::NAME_MAX],
            len: 0,
        }
    }

    /// `event FILE:LINE`, as `tracing` names an event's callsite, cut at a
    /// character boundary if it does not fit.
    fn spell(&mut self, file: &str, line: u32) -> &str {
        self.len = 0;
        let _ = fmt::write(self, format_args!("event {file}:{line}"));
        // Only whole `str`s were copied in (see `write_str`).
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("event")
    }
}

impl fmt::Write for NameBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// One argument of a call, as the record carries it.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Slot<'a> {
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
    /// Any other type: formatted with its placeholder's spec into the record.
    Text(fmt::Arguments<'a>),
}

impl Slot<'_> {
    /// Bytes the slot takes in a record, type included; `None` for text,
    /// whose length is known once it is formatted.
    #[inline(always)]
    fn wire_len(&self) -> Option<usize> {
        Some(match *self {
            Slot::I8(_) | Slot::Bool(_) => 2,
            Slot::I16(_) => 3,
            Slot::I32(_) | Slot::F32(_) | Slot::Char(_) => 5,
            Slot::I64(_) | Slot::U64(_) | Slot::F64(_) => 9,
            Slot::I128(_) | Slot::U128(_) => 17,
            Slot::Str(v) => 5usize.saturating_add(v.len()),
            Slot::Bytes(v) => 5usize.saturating_add(v.len()),
            Slot::Text(_) => return None,
        })
    }

    /// Writes the slot at the start of `dst`, which holds at least
    /// [`wire_len`](Self::wire_len) bytes (never called for text).
    #[inline(always)]
    fn put(&self, dst: &mut [u8]) {
        match *self {
            Slot::I8(v) => event::put_arg(dst, event::TYPE_I8, v.to_le_bytes()),
            Slot::I16(v) => event::put_arg(dst, event::TYPE_I16, v.to_le_bytes()),
            Slot::I32(v) => event::put_arg(dst, event::TYPE_I32, v.to_le_bytes()),
            Slot::I64(v) => event::put_arg(dst, event::TYPE_I64, v.to_le_bytes()),
            Slot::I128(v) => event::put_arg(dst, event::TYPE_I128, v.to_le_bytes()),
            Slot::U64(v) => event::put_arg(dst, event::TYPE_U64, v.to_le_bytes()),
            Slot::U128(v) => event::put_arg(dst, event::TYPE_U128, v.to_le_bytes()),
            Slot::F32(v) => event::put_arg(dst, event::TYPE_F32, v.to_le_bytes()),
            Slot::F64(v) => event::put_arg(dst, event::TYPE_F64, v.to_le_bytes()),
            Slot::Bool(v) => event::put_arg(dst, event::TYPE_BOOL, [u8::from(v)]),
            Slot::Char(v) => event::put_arg(dst, event::TYPE_CHAR, u32::from(v).to_le_bytes()),
            Slot::Str(v) => event::put_arg_blob(dst, event::TYPE_STR, v.as_bytes()),
            Slot::Bytes(v) => event::put_arg_blob(dst, event::TYPE_BYTES, v),
            Slot::Text(_) => {}
        }
    }

    #[inline(always)]
    fn encode(&self, sink: &mut impl FieldSink) {
        let name = FieldName::Slot;
        match *self {
            Slot::I8(v) => sink.i8(name, v),
            Slot::I16(v) => sink.i16(name, v),
            Slot::I32(v) => sink.i32(name, v),
            Slot::I64(v) => sink.i64(name, v),
            Slot::I128(v) => sink.i128(name, v),
            Slot::U64(v) => sink.u64(name, v),
            Slot::U128(v) => sink.u128(name, v),
            Slot::F32(v) => sink.f32(name, v),
            Slot::F64(v) => sink.f64(name, v),
            Slot::Bool(v) => sink.bool(name, v),
            Slot::Char(v) => sink.char(name, v),
            Slot::Str(v) => sink.str(name, v),
            Slot::Bytes(v) => sink.bytes(name, v),
            Slot::Text(args) => sink.args(name, args),
        }
    }
}

/// An argument of a call, borrowed: the receiver of the method that turns
/// it into what the record carries (typed if its type is one of
/// [`TypedArg`]'s, else text formatted with its placeholder's spec).
#[doc(hidden)]
pub struct ArgRef<'a, T: ?Sized>(pub &'a T);

/// Types whose values a record carries in binary (or, for strings and
/// bytes, copied), to be formatted by the reader.
#[doc(hidden)]
pub trait TypedArg {
    fn slot(&self) -> Slot<'_>;
}

/// An argument of a [`TypedArg`] type.
#[doc(hidden)]
pub struct Typed<'a, T: ?Sized>(&'a T);

/// An argument of any other type, formatted with its placeholder's spec
/// into the record.
#[doc(hidden)]
pub struct Text<'a>(pub fmt::Arguments<'a>);

/// The method a call's argument of a [`TypedArg`] type takes (found first:
/// it needs no auto-reference).
#[doc(hidden)]
pub trait ViaTyped {
    fn __logring_slot<'s>(&'s self, fallback: fmt::Arguments<'s>) -> impl Args + 's;
}

impl<T: TypedArg + ?Sized> ViaTyped for ArgRef<'_, T> {
    #[inline(always)]
    fn __logring_slot<'s>(&'s self, _fallback: fmt::Arguments<'s>) -> impl Args + 's {
        Typed(self.0)
    }
}

/// The method any other argument takes: its text, formatted with its
/// placeholder's spec.
#[doc(hidden)]
pub trait ViaFallback {
    fn __logring_slot<'s>(&'s self, fallback: fmt::Arguments<'s>) -> impl Args + 's;
}

impl<T: ?Sized> ViaFallback for &ArgRef<'_, T> {
    #[inline(always)]
    fn __logring_slot<'s>(&'s self, fallback: fmt::Arguments<'s>) -> impl Args + 's {
        Text(fallback)
    }
}

/// A call's arguments: one ([`Typed`], [`Text`]), or a tuple of arguments
/// (tuples of tuples for calls of more than 12), each of its own type, so
/// that what each writes is known where the call is compiled.
#[doc(hidden)]
pub trait Args: sealed::Encode {}

impl<T: sealed::Encode + ?Sized> Args for T {}

mod sealed {
    use super::{Slot, Text, Typed, TypedArg};
    use crate::ring::event::Encoder;

    /// The encoder of the record being written: opaque outside the crate.
    pub struct Sink<'e, 'b>(pub(crate) &'e mut Encoder<'b>);

    /// How arguments go into a record; not for use outside the crate.
    pub trait Encode {
        /// Bytes they take in a record; `None` if one is text, whose length
        /// is known once it is formatted.
        fn wire_len(&self) -> Option<usize>;
        /// Writes them at the start of `dst`, which holds
        /// [`wire_len`](Self::wire_len) bytes, returning that length.
        fn put(&self, dst: &mut [u8]) -> usize;
        /// Writes them through the encoder (any length).
        fn encode(&self, enc: &mut Sink<'_, '_>);
        /// Their values, for tests.
        #[cfg(test)]
        fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>);
    }

    impl<T: TypedArg + ?Sized> Encode for Typed<'_, T> {
        #[inline(always)]
        fn wire_len(&self) -> Option<usize> {
            self.0.slot().wire_len()
        }
        #[inline(always)]
        fn put(&self, dst: &mut [u8]) -> usize {
            let slot = self.0.slot();
            slot.put(dst);
            slot.wire_len().unwrap_or(0)
        }
        #[inline(always)]
        fn encode(&self, enc: &mut Sink<'_, '_>) {
            self.0.slot().encode(enc.0);
        }
        #[cfg(test)]
        fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>) {
            out.push(self.0.slot());
        }
    }

    impl Encode for Text<'_> {
        #[inline(always)]
        fn wire_len(&self) -> Option<usize> {
            None
        }
        #[inline(always)]
        fn put(&self, _dst: &mut [u8]) -> usize {
            0
        }
        #[inline(always)]
        fn encode(&self, enc: &mut Sink<'_, '_>) {
            Slot::Text(self.0).encode(enc.0);
        }
        #[cfg(test)]
        fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>) {
            out.push(Slot::Text(self.0));
        }
    }

    macro_rules! tuples {
        ($(($($name:ident)*))*) => {$(
            impl<$($name: Encode),*> Encode for ($($name,)*) {
                #[inline(always)]
                #[allow(non_snake_case, unused_mut)]
                fn wire_len(&self) -> Option<usize> {
                    let ($($name,)*) = self;
                    let mut len = 0usize;
                    $(len = len.saturating_add($name.wire_len()?);)*
                    Some(len)
                }
                #[inline(always)]
                #[allow(non_snake_case, unused_mut, unused_variables)]
                fn put(&self, dst: &mut [u8]) -> usize {
                    let ($($name,)*) = self;
                    let mut at = 0;
                    $(at += $name.put(dst.get_mut(at..).unwrap_or_default());)*
                    at
                }
                #[inline(always)]
                #[allow(non_snake_case, unused_variables)]
                fn encode(&self, enc: &mut Sink<'_, '_>) {
                    let ($($name,)*) = self;
                    $($name.encode(enc);)*
                }
                #[cfg(test)]
                #[allow(non_snake_case, unused_variables)]
                fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>) {
                    let ($($name,)*) = self;
                    $($name.slots(out);)*
                }
            }
        )*};
    }

    tuples! {
        ()
        (A)
        (A B)
        (A B C)
        (A B C D)
        (A B C D E)
        (A B C D E F)
        (A B C D E F G)
        (A B C D E F G H)
        (A B C D E F G H I)
        (A B C D E F G H I J)
        (A B C D E F G H I J K)
        (A B C D E F G H I J K L)
    }
}

macro_rules! typed_args {
    ($($ty:ty => |$v:ident| $slot:expr;)*) => {
        $(impl TypedArg for $ty {
            #[inline(always)]
            fn slot(&self) -> Slot<'_> {
                let $v = self;
                $slot
            }
        })*
    };
}

typed_args! {
    i8 => |v| Slot::I8(*v);
    i16 => |v| Slot::I16(*v);
    i32 => |v| Slot::I32(*v);
    i64 => |v| Slot::I64(*v);
    i128 => |v| Slot::I128(*v);
    // `isize`'s `{:x}` is that of its own width.
    isize => |v| if cfg!(target_pointer_width = "64") { Slot::I64(*v as i64) } else { Slot::I32(*v as i32) };
    // An unsigned integer formats the same at any width.
    u8 => |v| Slot::U64(u64::from(*v));
    u16 => |v| Slot::U64(u64::from(*v));
    u32 => |v| Slot::U64(u64::from(*v));
    u64 => |v| Slot::U64(*v);
    usize => |v| Slot::U64(*v as u64);
    u128 => |v| Slot::U128(*v);
    f32 => |v| Slot::F32(*v);
    f64 => |v| Slot::F64(*v);
    bool => |v| Slot::Bool(*v);
    char => |v| Slot::Char(*v);
    str => |v| Slot::Str(v);
    String => |v| Slot::Str(v);
    [u8] => |v| Slot::Bytes(v);
    Vec<u8> => |v| Slot::Bytes(v);
}

impl<const N: usize> TypedArg for [u8; N] {
    #[inline(always)]
    fn slot(&self) -> Slot<'_> {
        Slot::Bytes(self)
    }
}

impl<T: TypedArg + ?Sized> TypedArg for &T {
    #[inline(always)]
    fn slot(&self) -> Slot<'_> {
        (**self).slot()
    }
}

impl<T: TypedArg + ?Sized> TypedArg for &mut T {
    #[inline(always)]
    fn slot(&self) -> Slot<'_> {
        (**self).slot()
    }
}

/// Writes one call's event: its callsite and its arguments.
#[doc(hidden)]
#[inline(always)]
pub fn emit(callsite: &'static Callsite, args: impl Args) {
    match GLOBAL.get() {
        Some(emitter) => emit_into(emitter, callsite, &args),
        None => drop_early(),
    }
}

#[inline(always)]
fn emit_into(emitter: &Emitter, callsite: &Callsite, args: &impl Args) {
    // Acquire: pairs with the Release store after the dictionary entry was
    // committed (see `Callsite::emit`).
    let id = callsite.id.load(Ordering::Acquire);
    if !matches!(id, UNREGISTERED | REGISTERING | NO_ROOM) {
        // Every argument of a known size: one exact claim, no size hint.
        if let Some(len) = args.wire_len() {
            if emitter.emit_sized(callsite.meta.level, id, len, |dst| {
                args.put(dst);
            }) {
                return;
            }
        }
    }
    callsite.emit(emitter, |enc| args.encode(&mut sealed::Sink(enc)));
}

/// Counts a call made before [`set_global`].
#[cold]
fn drop_early() {
    // AcqRel: pairs with the swap in `hand_over_early_drops`.
    EARLY_DROPS.fetch_add(1, Ordering::AcqRel);
    // `set_global` may have taken the count just before this call added to
    // it: if the sender is there now, hand the count over again.
    if let Some(emitter) = GLOBAL.get() {
        hand_over_early_drops(emitter);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

    use super::*;
    use crate::channel::Receiver;
    use crate::events::{Decoder, Format};

    /// What a call site expands to, by hand (the macros write the same).
    macro_rules! call {
        ($emit:expr, $level:expr, $template:literal, [$($name:literal),*], $slots:literal; $($arg:expr => $spec:literal),*) => {{
            #[allow(unused_imports)]
            use super::{ViaFallback as _, ViaTyped as _};
            static CALLSITE: Callsite = Callsite::new(CallsiteMeta {
                level: $level,
                target: "test",
                module_path: module_path!(),
                file: file!(),
                line: line!(),
                template: $template,
                names: &[$($name),*],
                slots: $slots,
            });
            $emit.emit(&CALLSITE, ($((&ArgRef(&$arg)).__logring_slot(format_args!($spec, $arg)),)*));
        }};
    }

    /// Every record the receiver holds, decoded as JSON.
    fn drain(receiver: &mut Receiver) -> Vec<Json> {
        let decoder = Decoder::new(receiver, Format::Json);
        let mut lines = Vec::new();
        while let Ok(record) = receiver.try_recv() {
            let mut line = String::new();
            decoder.line(&mut line, 1, record.position(), record.tag(), &record);
            lines.push(serde_json::from_str(&line).expect(&line));
        }
        lines
    }

    fn fields(line: &Json) -> &serde_json::Map<String, Json> {
        line["fields"].as_object().expect("fields")
    }

    #[derive(Debug)]
    struct Custom(u8);

    impl fmt::Display for Custom {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.pad(&format!("custom {}", self.0))
        }
    }

    #[test]
    fn every_typed_argument_takes_its_slot() {
        let s = String::from("owned");
        fn slot(args: &impl Args) -> String {
            let mut slots = Vec::new();
            sealed::Encode::slots(args, &mut slots);
            format!("{:?}", slots[0])
        }
        macro_rules! slot_of {
            ($v:expr) => {{
                #[allow(unused_imports)]
                use super::{ViaFallback as _, ViaTyped as _};
                slot(&((&ArgRef(&$v)).__logring_slot(format_args!("{}", "fallback")),))
            }};
        }
        assert_eq!(slot_of!(-1i8), "I8(-1)");
        assert_eq!(slot_of!(-1i16), "I16(-1)");
        assert_eq!(slot_of!(-1i32), "I32(-1)");
        assert_eq!(slot_of!(-1i64), "I64(-1)");
        assert_eq!(slot_of!(-1i128), "I128(-1)");
        assert_eq!(slot_of!(-1isize), "I64(-1)");
        assert_eq!(slot_of!(255u8), "U64(255)");
        assert_eq!(slot_of!(7usize), "U64(7)");
        assert_eq!(slot_of!(u128::MAX), format!("U128({})", u128::MAX));
        assert_eq!(slot_of!(1.5f32), "F32(1.5)");
        assert_eq!(slot_of!(1.5f64), "F64(1.5)");
        assert_eq!(slot_of!(true), "Bool(true)");
        assert_eq!(slot_of!('é'), "Char('é')");
        assert_eq!(slot_of!("str"), "Str(\"str\")");
        assert_eq!(slot_of!(s), "Str(\"owned\")");
        assert_eq!(slot_of!(&&s), "Str(\"owned\")");
        assert_eq!(slot_of!(b"ab"), "Bytes([97, 98])");
        assert_eq!(slot_of!(&b"ab"[..]), "Bytes([97, 98])");
        assert_eq!(slot_of!(vec![1u8]), "Bytes([1])");
        assert_eq!(slot_of!(Custom(3)), "Text(fallback)");
        assert_eq!(slot_of!(Some(1u8)), "Text(fallback)");
    }

    /// A callsite's events through an emitter of its own: every call is a
    /// `'static` callsite of its own, registered in this emitter's ring.
    /// Writes through an emitter of the test's own.
    struct Local<'e>(&'e Emitter);

    /// Writes through the global sender.
    struct Global;

    impl Global {
        fn emit(&self, callsite: &'static Callsite, args: impl Args) {
            emit(callsite, args);
        }
    }

    impl Local<'_> {
        fn emit(&self, callsite: &'static Callsite, args: impl Args) {
            emit_into(self.0, callsite, &args);
        }
    }

    #[test]
    fn arguments_decode_as_the_format_string_prints_them() {
        let (sender, mut receiver) = mpsc::new(1 << 16).unwrap();
        let emitter = Emitter::new(sender);
        let emit = Local(&emitter);
        for _ in 0..2 {
            call!(emit, Level::Warn, "order {0} filled at {1:>8.2} by {2:?} ({3})",
                ["arg0", "arg1", "trader", "arg3"], 4;
                42u64 => "{}", 101.25f64 => "{:>8.2}", "ann" => "{:?}", Custom(7) => "{}");
        }
        let lines = drain(&mut receiver);
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert_eq!(line["level"], "WARN");
            assert_eq!(line["target"], "test");
            let fields = fields(line);
            assert_eq!(
                fields["message"],
                format!(
                    "order {} filled at {:>8.2} by {:?} ({})",
                    42,
                    101.25,
                    "ann",
                    Custom(7)
                )
            );
            assert_eq!(fields["arg0"], 42);
            assert_eq!(fields["arg1"], 101.25);
            assert_eq!(fields["trader"], "ann");
            assert_eq!(fields["arg3"], "custom 7");
        }
        // The message first, then the arguments in their order.
        for _ in 0..2 {
            call!(emit, Level::Warn, "order {0} by {1:?}", ["arg0", "trader"], 2;
                42u64 => "{}", "ann" => "{:?}");
        }
        let decoder = Decoder::new(&receiver, Format::Text);
        let mut text = String::new();
        while let Ok(record) = receiver.try_recv() {
            decoder.line(&mut text, 1, record.position(), record.tag(), &record);
        }
        assert_eq!(text.lines().count(), 2, "{text}");
        for line in text.lines() {
            assert!(
                line.ends_with(r#" WARN test: order 42 by "ann" arg0=42 trader="ann""#),
                "{line}"
            );
        }
    }

    #[test]
    fn without_a_dictionary_the_metadata_goes_inline() {
        // Rings under 16 KiB have no dictionary.
        let (sender, mut receiver) = mpsc::new(1 << 13).unwrap();
        assert_eq!(sender.ring().dictionary().len(), 0);
        let emitter = Emitter::new(sender);
        let emit = Local(&emitter);
        for i in 0..3u64 {
            call!(emit, Level::Info, "tick {0}", ["arg0"], 1; i => "{}");
        }
        let lines = drain(&mut receiver);
        let messages: Vec<&Json> = lines.iter().map(|line| &fields(line)["message"]).collect();
        assert_eq!(messages, ["tick 0", "tick 1", "tick 2"]);
    }

    #[test]
    fn an_argument_larger_than_a_record_is_cut_visibly() {
        let (sender, mut receiver) = mpsc::new(1 << 14).unwrap();
        let max = sender.max_record_len();
        let emitter = Emitter::new(sender);
        let emit = Local(&emitter);
        let long = "x".repeat(max * 2);
        call!(emit, Level::Info, "{0} and {1}", ["arg0", "arg1"], 2; 1u8 => "{}", long => "{}");
        call!(emit, Level::Info, "after {0}", ["arg0"], 1; 2u8 => "{}");
        let lines = drain(&mut receiver);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let cut = fields(&lines[0]);
        assert_eq!(cut["logring.truncated"], true);
        assert_eq!(cut["arg0"], 1);
        assert!(cut["message"].as_str().unwrap().starts_with("1 and "));
        assert_eq!(fields(&lines[1])["message"], "after 2");
    }

    #[test]
    fn a_full_ring_counts_its_drops_and_reports_them() {
        let (sender, mut receiver) = mpsc::new(1 << 14).unwrap();
        let emitter = Emitter::new(sender);
        let emit = Local(&emitter);
        let mut sent = 0u64;
        while emitter.dropped() == 0 {
            call!(emit, Level::Info, "fill {0}", ["arg0"], 1; sent => "{}");
            sent += 1;
        }
        for _ in 0..4 {
            call!(emit, Level::Info, "fill {0}", ["arg0"], 1; sent => "{}");
        }
        let before = drain(&mut receiver).len() as u64;
        call!(emit, Level::Info, "after {0}", ["arg0"], 1; 1u8 => "{}");
        let after = drain(&mut receiver);
        assert_eq!(after.len(), 2);
        assert_eq!(fields(&after[0])["dropped"], emitter.dropped());
        assert_eq!(before + emitter.dropped(), sent + 4);
        assert_eq!(fields(&after[1])["message"], "after 1");
    }

    /// Threads racing to write a callsite's first events: one registers it,
    /// the others write theirs with the metadata inline, and every event
    /// decodes (none refers to an entry the reader cannot find yet).
    #[test]
    fn first_events_raced_from_many_threads_all_decode() {
        const THREADS: usize = 4;
        const SITES: usize = 8;
        const EACH: usize = 4;
        let rounds = if cfg!(miri) { 2 } else { 50 };
        for round in 0..rounds {
            let (sender, mut receiver) = mpsc::new(1 << 18).unwrap();
            let emitter = Emitter::new(sender);
            // Callsites of this round alone, as statics are for one ring.
            let sites: Vec<Callsite> = (0..SITES)
                .map(|site| {
                    Callsite::new(CallsiteMeta {
                        level: Level::Info,
                        target: "race",
                        module_path: "race",
                        file: "race.rs",
                        line: site as u32 + 1,
                        template: "site {0} thread {1} event {2}",
                        names: &["arg0", "arg1", "arg2"],
                        slots: 3,
                    })
                })
                .collect();
            let barrier = std::sync::Barrier::new(THREADS);
            std::thread::scope(|scope| {
                for thread in 0..THREADS {
                    let (emitter, sites, barrier) = (&emitter, &sites, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        for event in 0..EACH {
                            for (site, callsite) in sites.iter().enumerate() {
                                let args = (
                                    Typed(&(site as u64)),
                                    Typed(&(thread as u64)),
                                    Typed(&(event as u64)),
                                );
                                emit_into(emitter, callsite, &args);
                            }
                        }
                    });
                }
            });
            let lines = drain(&mut receiver);
            assert_eq!(lines.len(), THREADS * SITES * EACH, "round {round}");
            let mut seen = std::collections::HashSet::new();
            for line in &lines {
                let fields = fields(line);
                let (site, thread, event) = (&fields["arg0"], &fields["arg1"], &fields["arg2"]);
                assert_eq!(
                    fields["message"],
                    format!("site {site} thread {thread} event {event}"),
                    "round {round}: {line}"
                );
                assert_eq!(line["line_number"], site.as_u64().unwrap() + 1);
                assert!(seen.insert((site.clone(), thread.clone(), event.clone())));
            }
        }
    }

    /// The global sender: calls before it are counted, then reported; the
    /// level filter; a second `set_global` refused. One test, as there is
    /// one global sender per process.
    #[test]
    fn the_global_sender() {
        let before = global_dropped();
        let emit = Global;
        call!(emit, Level::Error, "early {0}", ["arg0"], 1; 1u8 => "{}");
        call!(emit, Level::Error, "early {0}", ["arg0"], 1; 2u8 => "{}");
        assert_eq!(global_dropped(), before + 2);

        let (sender, mut receiver) = mpsc::new(1 << 16).unwrap();
        set_global(sender).unwrap();
        let (other, _) = mpsc::new(1 << 14).unwrap();
        assert!(set_global(other).is_err());

        assert_eq!(max_level(), Level::Info);
        assert!(!enabled(Level::Debug) && enabled(Level::Info));
        set_max_level(Level::Trace);
        assert!(enabled(Level::Trace));
        set_max_level(Level::Warn);
        assert!(!enabled(Level::Info) && enabled(Level::Warn));

        call!(emit, Level::Error, "late {0}", ["arg0"], 1; 3u8 => "{}");
        let lines = drain(&mut receiver);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(fields(&lines[0])["dropped"], 2);
        assert_eq!(fields(&lines[1])["message"], "late 3");
        assert_eq!(global_dropped(), before + 2);
        set_max_level(Level::Info);
    }
}
