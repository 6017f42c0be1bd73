//! `#[e2e_macros::test]`: a `#[test]` of the end-to-end binary (tests/e2e) whose body
//! first takes its module's turn, `crate::common::group(module_path!())`, so that the
//! tests of one module (one topic: podman, runc, load, ...) never run beside those of
//! another. Works inside `proptest!` too (the turn is taken once per property).
//!
//! Plain `proc_macro`, no parser crate: the item's last brace-delimited group is the
//! function body.

use proc_macro::{Delimiter, Group, TokenStream, TokenTree};

/// See the crate documentation.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return error("#[e2e_macros::test] takes no arguments");
    }
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let body = tokens
        .iter()
        .rposition(|t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace));
    let Some(at) = body else {
        return error("#[e2e_macros::test] goes on a function with a body");
    };
    let TokenTree::Group(old) = &tokens[at] else {
        return error("#[e2e_macros::test]: the body is not a block");
    };
    let mut inner = tokens_of("let _group = crate::common::group(::core::module_path!());");
    inner.extend(old.stream());
    let mut new = Group::new(Delimiter::Brace, inner);
    new.set_span(old.span());
    tokens[at] = TokenTree::Group(new);
    let mut out = tokens_of("#[test]");
    out.extend(tokens);
    out
}

fn tokens_of(code: &str) -> TokenStream {
    code.parse().unwrap_or_else(|_| TokenStream::new())
}

fn error(message: &str) -> TokenStream {
    tokens_of(&format!("::core::compile_error!({message:?});"))
}
