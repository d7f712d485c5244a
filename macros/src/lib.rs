//! The procedural macro behind logring's deferred-formatting log macros.
//!
//! Use it through `logring::trace!`, `debug!`, `info!`, `warn!` and `error!`:
//! they forward to [`log!`] with the path of the `logring` crate and the
//! level. Nothing here is meant to be called directly.
//!
//! A log call formats nothing on the calling thread: the callsite (level,
//! target, place, and its format string rewritten as a *canonical template*,
//! see the `format` module) is registered once, and each call writes its
//! arguments' bytes, in *slots*; a decoder renders the template later, in any
//! process. The format string is checked by the compiler itself: the
//! expansion holds a `format_args!` of the user's own tokens (never run), so
//! a wrong argument count or a bad spec is the compiler's usual error,
//! pointing at the call's tokens.

#![forbid(unsafe_code)]

mod format;

use proc_macro2::{Delimiter, Literal, Spacing, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::parse::{ParseStream, Parser as _};
use syn::spanned::Spanned as _;
use syn::{Expr, Ident, LitStr, Token};

/// Expands one log call.
///
/// Input: `crate_path, level_path, [target: <expr>,] "format string" [, arg]* [,]`,
/// where an argument is `<expr>` or `<name> = <expr>` as in `format_args!`.
/// `crate_path` is the `logring` crate (`$crate` from its macros), and
/// `level_path` a constant `logring::events::Level`. The target must be a
/// constant `&'static str` expression (it is stored in a `static`); without
/// one, the target is the calling module's path.
///
/// The expansion, for `info!("order {} at {px:>8.2}", id)`:
///
/// ```text
/// {
///     use $crate::__private::{ViaTyped as _, ViaFallback as _};
///     const __LEVEL: $crate::events::Level = $crate::events::Level::Info;
///     if $crate::__private::enabled(__LEVEL) {
///         static __CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
///             $crate::__private::CallsiteMeta {
///                 level: __LEVEL, target: ::core::module_path!(),
///                 module_path: ::core::module_path!(), file: ::core::file!(),
///                 line: ::core::line!(), template: "order {0} at {1:>8.2}",
///                 names: &["arg0", "px"], slots: 2,
///             });
///         if false {
///             // The compiler's check of the format string, never run.
///             let _ = ::core::format_args!("order {} at {px:>8.2}", id);
///         } else {
///             match (&(id), &(px)) {
///                 (__logring_a0, __logring_a1) => {
///                     $crate::__private::emit(&__CALLSITE, (
///                         (&$crate::__private::ArgRef(__logring_a0))
///                             .__logring_slot(::core::format_args!("{}", __logring_a0)),
///                         (&$crate::__private::ArgRef(__logring_a1))
///                             .__logring_slot(::core::format_args!("{:>8.2}", __logring_a1)),
///                     ));
///                 }
///             }
///         }
///     }
/// }
/// ```
///
/// Each argument is evaluated once, in order (positional, named, then the
/// captured variables), and only when the level is enabled. The check and
/// the call sit in the two branches of one `if`, so that an argument that
/// moves a value moves it once for the borrow checker too. A `{:p}`
/// placeholder is always pre-formatted (`Text`). The arguments go to `emit`
/// as a tuple (tuples of 12 nested for more), each of its own type.
///
/// If the format string is one this macro's parser rejects, the expansion
/// formats the message on the calling thread with `format_args!` itself
/// into one text slot: if the string is wrong, the compiler reports its own
/// error; if it is right (a form the parser does not know), the call still
/// logs, on the slow path, rather than vanish.
#[proc_macro]
pub fn log(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    match expand(input.into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// The macro's input, split.
struct Input {
    /// The `logring` crate's path (`$crate`).
    krate: TokenStream,
    /// The level, a constant path.
    level: TokenStream,
    target: Option<Expr>,
    /// The format string and its arguments, as written: what
    /// `format_args!` checks.
    format: TokenStream,
}

/// One argument after the format string.
struct Arg {
    name: Option<Ident>,
    expr: Expr,
}

fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let Input {
        krate,
        level,
        target,
        format,
    } = parse_input.parse2(input)?;
    let check = quote! { let _ = ::core::format_args!(#format); };
    let target = match &target {
        Some(target) => target.to_token_stream(),
        None => quote!(::core::module_path!()),
    };
    // The message formatted here, into one text slot: the compiler reports
    // what is wrong with the call, if anything is.
    let eager = {
        let callsite = callsite(&krate, &target, "{0}", &[], 1);
        quote! {
            #callsite
            #krate::__private::emit(
                &__CALLSITE,
                (#krate::__private::Text(::core::format_args!(#format)),),
            );
        }
    };
    let eager = enabled(&krate, &level, &eager);

    check_format_literal(&format)?;
    let (lit, args) = match parse_format_args.parse2(format.clone()) {
        Ok(parsed) => parsed,
        // Arguments syn cannot read: most likely wrong, and the check
        // reports it; but should the compiler accept them (syntax newer than
        // syn), the call must not vanish without a word.
        Err(error) => {
            let error = error.to_compile_error();
            return Ok(quote! { { #error if false { #check } } });
        }
    };
    if !lit.suffix().is_empty() {
        return Ok(eager);
    }
    let explicit: Vec<Option<String>> = args
        .iter()
        .map(|arg| arg.name.as_ref().map(|name| name.unraw().to_string()))
        .collect();
    let canonical = match format::canonicalize(&lit.value(), &explicit) {
        Ok(canonical) => canonical,
        Err(format::Error::Invalid(_)) => return Ok(eager),
        Err(format::Error::TooManySlots(n)) => {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "this log call needs {n} slots (its arguments, and one more for each \
                     argument shown again with another spec); at most {} fit",
                    format::MAX_SLOTS
                ),
            ));
        }
        Err(format::Error::TemplateTooLong(n)) => {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "this format string's template is {n} bytes long; at most {} fit",
                    format::MAX_TEMPLATE
                ),
            ));
        }
    };

    // Every argument's value, in slot order: the explicit ones, then the
    // variables captured by the format string.
    let mut values: Vec<TokenStream> = args.iter().map(|arg| arg.expr.to_token_stream()).collect();
    values.extend(
        canonical
            .captures
            .iter()
            .map(|name| capture(name, lit.span()).to_token_stream()),
    );
    let names: Vec<String> = explicit
        .iter()
        .enumerate()
        .map(|(i, name)| name.clone().unwrap_or_else(|| format!("arg{i}")))
        .chain(canonical.captures.iter().cloned())
        .collect();
    // Local to the expansion (the user's expressions cannot see them), but
    // placed on the argument they hold: when the check fails on an
    // argument's type (not `Display`, a width that is not `usize`), the
    // same error in the code around them points at the argument too, not
    // at the whole call.
    let binds: Vec<Ident> = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let span = Span::mixed_site().located_at(value.span());
            Ident::new(&format!("__logring_a{i}"), span)
        })
        .collect();

    let slots = canonical.slots.iter().map(|plan| {
        let value = &binds[plan.arg];
        let fallback = LitStr::new(&plan.fallback, lit.span());
        let counts = plan.fallback_counts.iter().map(|&c| {
            let count = &binds[c];
            quote_spanned!(count.span()=> *#count)
        });
        if plan.pointer {
            // The address of the argument itself, as `format_args!` shows it
            // (not that of the reference bound here).
            let value = quote_spanned!(value.span()=> *#value);
            quote! {
                #krate::__private::Text(::core::format_args!(#fallback, #value #(, #counts)*))
            }
        } else {
            quote! {
                (&#krate::__private::ArgRef(#value))
                    .__logring_slot(::core::format_args!(#fallback, #value #(, #counts)*))
            }
        }
    });
    let args = tuples(slots.collect());
    let emit = quote! { #krate::__private::emit(&__CALLSITE, #args); };
    let call = if values.is_empty() {
        emit
    } else {
        quote! {
            match (#(&(#values),)*) {
                (#(#binds,)*) => { #emit }
            }
        }
    };
    let traits = if canonical.slots.iter().any(|plan| !plan.pointer) {
        quote! { use #krate::__private::{ViaTyped as _, ViaFallback as _}; }
    } else {
        TokenStream::new()
    };

    let callsite = callsite(
        &krate,
        &target,
        &canonical.template,
        &names,
        canonical.slots.len(),
    );
    let body = quote! {
        #traits
        #callsite
        if false {
            #check
        } else {
            #call
        }
    };
    Ok(enabled(&krate, &level, &body))
}

/// The most elements of one tuple of arguments (the runtime's `Args` is
/// implemented for tuples up to this many).
const TUPLE_MAX: usize = 12;

/// The arguments as one tuple, or tuples of tuples when there are more
/// than a tuple holds: each argument keeps its own type, so that what it
/// writes is known where the call is compiled.
fn tuples(mut items: Vec<TokenStream>) -> TokenStream {
    while items.len() > TUPLE_MAX {
        items = items
            .chunks(TUPLE_MAX)
            .map(|chunk| quote! { (#(#chunk,)*) })
            .collect();
    }
    quote! { (#(#items,)*) }
}

/// `body` under the level check.
fn enabled(krate: &TokenStream, level: &TokenStream, body: &TokenStream) -> TokenStream {
    quote! {
        {
            const __LEVEL: #krate::events::Level = #level;
            if #krate::__private::enabled(__LEVEL) {
                #body
            }
        }
    }
}

/// The call site's `static __CALLSITE`.
fn callsite(
    krate: &TokenStream,
    target: &TokenStream,
    template: &str,
    names: &[String],
    slots: usize,
) -> TokenStream {
    let template = LitStr::new(template, Span::call_site());
    let slots = Literal::usize_unsuffixed(slots);
    quote! {
        static __CALLSITE: #krate::__private::Callsite = #krate::__private::Callsite::new(
            #krate::__private::CallsiteMeta {
                level: __LEVEL,
                target: #target,
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: ::core::line!(),
                template: #template,
                names: &[#(#names),*],
                slots: #slots,
            },
        );
    }
}

/// `crate_path, level_path, [target: <expr>,]` and the rest as it is.
fn parse_input(input: ParseStream) -> syn::Result<Input> {
    let krate = tokens_before_comma(input, "the crate's path")?;
    let level = tokens_before_comma(input, "the level")?;
    let mut target = None;
    if let Some((ident, rest)) = input.cursor().ident() {
        if ident == "target" {
            match rest.punct() {
                Some((colon, _)) if colon.as_char() == ':' && colon.spacing() == Spacing::Alone => {
                    input.parse::<Ident>()?;
                    input.parse::<Token![:]>()?;
                    let expr: Expr = input.parse()?;
                    if input.is_empty() {
                        return Err(
                            input.error("expected `,` and the format string after the target")
                        );
                    }
                    input.parse::<Token![,]>().map_err(|error| {
                        syn::Error::new(error.span(), "expected `,` after the target expression")
                    })?;
                    if input.is_empty() {
                        return Err(input.error("expected the format string after the target"));
                    }
                    target = Some(expr);
                }
                Some((eq, _)) if eq.as_char() == '=' => {
                    return Err(syn::Error::new(
                        ident.span(),
                        "the target is given as `target: \"name\",` before the format string",
                    ));
                }
                _ => {}
            }
        }
    }
    let format = input.parse()?;
    Ok(Input {
        krate,
        level,
        target,
        format,
    })
}

/// The tokens up to the next `,` at this level, and the comma.
fn tokens_before_comma(input: ParseStream, what: &str) -> syn::Result<TokenStream> {
    input.step(|cursor| {
        let mut tokens = TokenStream::new();
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if let TokenTree::Punct(punct) = &tt {
                if punct.as_char() == ',' {
                    return Ok((tokens, next));
                }
            }
            tokens.extend([tt]);
            rest = next;
        }
        Err(cursor.error(format!("expected {what} and `,`")))
    })
}

/// A clear error if the call's format string is not a string literal.
fn check_format_literal(format: &TokenStream) -> syn::Result<()> {
    let Some(first) = format.clone().into_iter().next() else {
        return Err(syn::Error::new(
            Span::call_site(),
            "expected a format string literal",
        ));
    };
    // A literal passed through a `macro_rules!` fragment arrives in an
    // invisible group.
    let token = match &first {
        TokenTree::Group(group) if group.delimiter() == Delimiter::None => group.stream(),
        _ => first.to_token_stream(),
    };
    syn::parse2::<LitStr>(token).map(drop).map_err(|_| {
        syn::Error::new_spanned(
            &first,
            "format argument must be a string literal: logring's log macros store the format \
             string with the callsite, so it must be written in the call",
        )
    })
}

/// `"literal" [, arg]* [,]`, an argument being `expr` or `name = expr`.
fn parse_format_args(input: ParseStream) -> syn::Result<(LitStr, Vec<Arg>)> {
    let lit: LitStr = input.parse()?;
    let mut args = Vec::new();
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        if is_named(input) {
            let name = Ident::parse_any(input)?;
            input.parse::<Token![=]>()?;
            let expr = input.parse()?;
            args.push(Arg {
                name: Some(name),
                expr,
            });
        } else {
            args.push(Arg {
                name: None,
                expr: input.parse()?,
            });
        }
    }
    Ok((lit, args))
}

/// `name = ...` (a named argument), as `format_args!` tells it: an
/// identifier followed by `=` that is not part of `==` or `=>`.
fn is_named(input: ParseStream) -> bool {
    let Some((_, rest)) = input.cursor().ident() else {
        return false;
    };
    let Some((eq, rest)) = rest.punct() else {
        return false;
    };
    if eq.as_char() != '=' {
        return false;
    }
    let joined = eq.spacing() == Spacing::Joint
        && rest
            .punct()
            .is_some_and(|(next, _)| matches!(next.as_char(), '=' | '>'));
    !joined
}

/// The variable a `{name}` captures, resolved where the format string was
/// written (as `format_args!` resolves it).
fn capture(name: &str, span: Span) -> Ident {
    let plain = syn::parse_str::<Ident>(name).is_ok()
        || matches!(name, "self" | "Self" | "super" | "crate");
    if plain {
        Ident::new(name, span)
    } else {
        // A keyword: only a raw identifier can be a variable of that name.
        Ident::new_raw(name, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(input: TokenStream) -> Result<String, String> {
        expand(input)
            .map(|tokens| tokens.to_string())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn a_call_expands_to_its_callsite_and_slots() {
        let out = expand_str(quote!(
            ::logring,
            ::logring::events::Level::Info,
            "order {} at {px:>8.2}",
            id
        ))
        .unwrap();
        assert!(
            out.contains(r#"template : "order {0} at {1:>8.2}""#),
            "{out}"
        );
        assert!(out.contains(r#"names : & ["arg0" , "px"]"#), "{out}");
        assert!(out.contains("slots : 2"), "{out}");
        assert!(
            out.contains("target : :: core :: module_path ! ()"),
            "{out}"
        );
        assert!(
            out.contains(r#"format_args ! ("order {} at {px:>8.2}" , id)"#),
            "{out}"
        );
        assert!(
            out.contains(r#"format_args ! ("{:>8.2}" , __logring_a1)"#),
            "{out}"
        );
    }

    #[test]
    fn targets() {
        let out =
            expand_str(quote!(crate, crate::events::Level::Warn, target: "fills", "x")).unwrap();
        assert!(out.contains(r#"target : "fills""#), "{out}");
        let error = expand_str(quote!(crate, L, target = "fills", "x")).unwrap_err();
        assert!(error.contains("target: \"name\","), "{error}");
        let error = expand_str(quote!(crate, L, target: "fills")).unwrap_err();
        assert!(error.contains("after the target"), "{error}");
        let error = expand_str(quote!(crate, L, target: "fills",)).unwrap_err();
        assert!(
            error.contains("the format string after the target"),
            "{error}"
        );
        let error = expand_str(quote!(crate, L, target: "fills" "x")).unwrap_err();
        assert!(error.contains("expected `,` after the target"), "{error}");
    }

    #[test]
    fn every_kind_of_argument_expands_to_a_call() {
        for input in [
            quote!(crate, L, "{} {}", a, b),
            quote!(crate, L, "{}", |a, b| a + b),
            quote!(crate, L, "{}", Vec::<u8, A>::new().len()),
            quote!(crate, L, "{}", if a { 1 } else { 2 }),
            quote!(
                crate,
                L,
                "{}",
                match a {
                    Some(x) => x,
                    None => 0,
                }
            ),
            quote!(crate, L, "{}", {
                let v = 2;
                v * 21
            }),
            quote!(
                crate,
                L,
                "{}",
                'outer: loop {
                    break 'outer 1;
                }
            ),
            quote!(crate, L, "{}", fetch().await),
            quote!(crate, L, "{}", values.first()?),
            quote!(crate, L, "{}", if i == 1 { continue } else { i }),
            quote!(crate, L, "{}", async move { 1 }),
            quote!(crate, L, "{}", unsafe { *ptr }),
            quote!(crate, L, "{}", a as u64 + b[0] - -c),
            quote!(crate, L, "{:?}", (1, [2, 3], S { x: 1 }, &mut v, ..=5)),
            quote!(crate, L, "{}", format!("{}", 1)),
            quote!(crate, L, "{x} {b}", x = a == b, b = 1),
            quote!(crate, L, "{x}", x = a = b),
        ] {
            let out = expand_str(input.clone()).unwrap();
            assert!(out.contains("static __CALLSITE"), "{input}: {out}");
        }
    }

    #[test]
    fn what_the_parser_rejects_is_formatted_by_format_args_itself() {
        for input in [
            quote!(crate, L, "{} {}", a),
            quote!(crate, L, "{}", a, b),
            quote!(crate, L, "{:d}", a),
            quote!(crate, L, "{", a),
            quote!(crate, L, "{a}", a = 1, a = 2),
            quote!(crate, L, "{}", a = 1, 2),
        ] {
            let out = expand_str(input.clone()).unwrap();
            // The compiler rejects these: the error is its own. Were one
            // right, the call would log its message, formatted here.
            assert!(
                out.contains("__private :: Text (:: core :: format_args !"),
                "{input}: {out}"
            );
            assert!(out.contains(r#"template : "{0}""#), "{input}: {out}");
            assert!(!out.contains("ArgRef"), "{input}: {out}");
        }
    }

    #[test]
    fn arguments_syn_cannot_read_are_an_error_beside_the_check() {
        for input in [
            quote!(crate, L, "{}" "x", a),
            quote!(crate, L, "{}", a,, b),
            quote!(crate, L, "{}", a+),
        ] {
            let out = expand_str(input.clone()).unwrap();
            assert!(
                out.starts_with("{ :: core :: compile_error !"),
                "{input}: {out}"
            );
            assert!(
                out.contains("if false { let _ = :: core :: format_args !"),
                "{input}: {out}"
            );
            assert!(!out.contains("__CALLSITE"), "{input}: {out}");
        }
    }

    #[test]
    fn a_format_string_must_be_a_literal() {
        for input in [
            quote!(crate, L, format, 1),
            quote!(crate, L, 42),
            quote!(crate, L, b"bytes"),
        ] {
            let error = expand_str(input).unwrap_err();
            assert!(
                error.starts_with("format argument must be a string literal"),
                "{error}"
            );
        }
        let error = expand_str(quote!(crate, L,)).unwrap_err();
        assert_eq!(error, "expected a format string literal");
    }

    #[test]
    fn named_arguments_and_comparisons() {
        // `a == b` is a positional argument, `a = b` a named one.
        let out = expand_str(quote!(crate, L, "{} {b}", a == 1, b = 2)).unwrap();
        assert!(out.contains(r#"names : & ["arg0" , "b"]"#), "{out}");
        let out = expand_str(quote!(crate, L, "{type}", r#type = 2)).unwrap();
        assert!(out.contains(r#"names : & ["type"]"#), "{out}");
    }

    #[test]
    fn captured_keywords_are_raw_identifiers() {
        let out = expand_str(quote!(crate, L, "{self} {type}")).unwrap();
        assert!(out.contains("match (& (self) , & (r#type) ,)"), "{out}");
    }

    #[test]
    fn limits_are_errors_on_the_literal() {
        let long = LitStr::new(&"x".repeat(format::MAX_TEMPLATE + 1), Span::call_site());
        let error = expand_str(quote!(crate, L, #long)).unwrap_err();
        assert!(
            error.contains("template is 65536 bytes long; at most 65535 fit"),
            "{error}"
        );
        let many = LitStr::new(
            &(0..=format::MAX_SLOTS)
                .map(|w| format!("{{0:{w}}}"))
                .collect::<String>(),
            Span::call_site(),
        );
        let error = expand_str(quote!(crate, L, #many, a)).unwrap_err();
        assert!(error.contains("needs 65536 slots"), "{error}");
    }
}
