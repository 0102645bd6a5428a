//! The top-level declarations of one C file, read with libclang (the
//! library bindgen uses, loaded at run time): what `livegraft-gen diff`
//! needs to cut a kernel source file down to its changed functions.
//!
//! The file is parsed with the exact flags Kbuild compiled it with, so every
//! macro, `#ifdef` and type is what the kernel's object saw. Offsets are byte
//! offsets in the file (expansion locations: a declaration made by a macro
//! spans the macro's invocation).

// libclang's enum constants keep their C names.
#![allow(non_upper_case_globals)]

use std::ffi::{CStr, CString};
use std::os::raw::{c_uint, c_void};
use std::path::Path;

use clang_sys::*;

/// What a top-level declaration is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A function (definition or prototype).
    Func,
    /// A variable (definition or declaration).
    Var,
    /// A struct or union.
    Record,
    /// `asm()` at file scope and other declarations libclang does not expose.
    Unexposed,
    /// Types, enums, static asserts: kept as written.
    Other,
}

/// A use of a function or variable inside a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    /// The USR of the declaration used (unique per entity, statics included).
    pub usr: String,
    /// Where the name is written in this file (a macro body or argument of
    /// this file counts), if it is.
    pub at: Option<usize>,
    /// The name.
    pub name: String,
}

/// A struct or union's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Size in bytes (negative: incomplete).
    pub size: i64,
    /// Fields: name, offset in bits, type.
    pub fields: Vec<(String, i64, String)>,
}

/// One top-level declaration written in the file.
#[derive(Clone, Debug)]
pub struct Decl {
    pub kind: Kind,
    pub name: String,
    pub usr: String,
    /// Byte range in the file (end exclusive; a trailing `;` not included).
    pub start: usize,
    pub end: usize,
    /// 1-based line of the start.
    pub line: u32,
    /// The name's offset where it is written plainly at this declaration
    /// (not produced by a macro).
    pub name_at: Option<usize>,
    pub is_def: bool,
    /// `static` (internal linkage).
    pub internal: bool,
    /// Declared `inline`.
    pub inline: bool,
    /// Its type as C spells it (`int (struct seq_file *, void *)`).
    pub ty: String,
    /// Functions and variables of file scope that a definition uses.
    pub refs: Vec<Ref>,
    /// Structs and unions: their layout.
    pub layout: Option<Layout>,
}

fn string(s: CXString) -> String {
    // SAFETY: `s` was just returned by libclang; clang_getCString gives a
    // NUL-terminated string owned by `s` (or NULL), copied before
    // clang_disposeString frees it, exactly once.
    unsafe {
        let p = clang_getCString(s);
        let out = if p.is_null() { String::new() } else { CStr::from_ptr(p).to_string_lossy().into_owned() };
        clang_disposeString(s);
        out
    }
}

struct Ctx {
    main: CXFile,
    decls: Vec<Decl>,
}

/// (offset, line) of a location's expansion point if it is in the main file.
fn expansion_in(main: CXFile, loc: CXSourceLocation) -> Option<(usize, u32)> {
    let mut file: CXFile = std::ptr::null_mut();
    let (mut line, mut col, mut off): (c_uint, c_uint, c_uint) = (0, 0, 0);
    // SAFETY: out-pointers to locals; `loc` comes from a live translation unit.
    unsafe {
        clang_getExpansionLocation(loc, &mut file, &mut line, &mut col, &mut off);
        if file.is_null() || clang_File_isEqual(file, main) == 0 {
            return None;
        }
    }
    Some((off as usize, line))
}

/// The offset of a location's spelling if it is in the main file.
fn spelling_in(main: CXFile, loc: CXSourceLocation) -> Option<usize> {
    let mut file: CXFile = std::ptr::null_mut();
    let (mut line, mut col, mut off): (c_uint, c_uint, c_uint) = (0, 0, 0);
    // SAFETY: as in expansion_in.
    unsafe {
        clang_getSpellingLocation(loc, &mut file, &mut line, &mut col, &mut off);
        if file.is_null() || clang_File_isEqual(file, main) == 0 {
            return None;
        }
    }
    Some(off as usize)
}

struct RefCtx {
    main: CXFile,
    refs: Vec<Ref>,
}

extern "C" fn ref_visitor(c: CXCursor, _parent: CXCursor, data: CXClientData) -> CXChildVisitResult {
    // SAFETY: `data` is the &mut RefCtx that collect_refs passed to
    // clang_visitChildren, alive and not otherwise borrowed during the visit.
    let ctx = unsafe { &mut *(data as *mut RefCtx) };
    // SAFETY: cursors handed to the visitor are valid for its duration.
    unsafe {
        if clang_getCursorKind(c) == CXCursor_DeclRefExpr {
            let r = clang_getCursorReferenced(c);
            let k = clang_getCursorKind(r);
            if (k == CXCursor_FunctionDecl || k == CXCursor_VarDecl)
                && clang_getCursorKind(clang_getCursorSemanticParent(r)) == CXCursor_TranslationUnit
            {
                let at = spelling_in(ctx.main, clang_getCursorLocation(c));
                ctx.refs.push(Ref {
                    usr: string(clang_getCursorUSR(r)),
                    at,
                    name: string(clang_getCursorSpelling(r)),
                });
            }
        }
    }
    CXChildVisit_Recurse
}

fn collect_refs(main: CXFile, c: CXCursor) -> Vec<Ref> {
    let mut ctx = RefCtx { main, refs: Vec::new() };
    // SAFETY: the visitor only uses `data` as the RefCtx above, which
    // outlives the call.
    unsafe {
        clang_visitChildren(c, ref_visitor, &mut ctx as *mut RefCtx as *mut c_void);
    }
    ctx.refs
}

extern "C" fn field_visitor(c: CXCursor, _parent: CXCursor, data: CXClientData) -> CXChildVisitResult {
    // SAFETY: `data` is the &mut Vec that layout() passed, alive during the visit.
    let fields = unsafe { &mut *(data as *mut Vec<(String, i64, String)>) };
    // SAFETY: a valid cursor of the visit.
    unsafe {
        if clang_getCursorKind(c) == CXCursor_FieldDecl {
            fields.push((
                string(clang_getCursorSpelling(c)),
                clang_Cursor_getOffsetOfField(c),
                string(clang_getTypeSpelling(clang_getCursorType(c))),
            ));
        }
    }
    CXChildVisit_Continue
}

fn layout(c: CXCursor) -> Layout {
    let mut fields = Vec::new();
    // SAFETY: the visitor uses `data` only as the Vec above.
    let size = unsafe {
        clang_visitChildren(c, field_visitor, &mut fields as *mut Vec<(String, i64, String)> as *mut c_void);
        clang_Type_getSizeOf(clang_getCursorType(c))
    };
    Layout { size, fields }
}

extern "C" fn top_visitor(c: CXCursor, _parent: CXCursor, data: CXClientData) -> CXChildVisitResult {
    // SAFETY: `data` is the &mut Ctx that parse() passed, alive during the visit.
    let ctx = unsafe { &mut *(data as *mut Ctx) };
    // SAFETY: cursors handed to the visitor are valid for its duration.
    unsafe {
        let ext = clang_getCursorExtent(c);
        let (Some((start, line)), Some((end, _))) = (
            expansion_in(ctx.main, clang_getRangeStart(ext)),
            expansion_in(ctx.main, clang_getRangeEnd(ext)),
        ) else {
            return CXChildVisit_Continue;
        };
        let k = clang_getCursorKind(c);
        let kind = match k {
            CXCursor_FunctionDecl => Kind::Func,
            CXCursor_VarDecl => Kind::Var,
            CXCursor_StructDecl | CXCursor_UnionDecl => Kind::Record,
            CXCursor_UnexposedDecl => Kind::Unexposed,
            _ => Kind::Other,
        };
        // A file-scope variable without `extern` is a (tentative) definition
        // in C, which clang_isCursorDefinition does not count.
        let is_def = clang_isCursorDefinition(c) != 0
            || (kind == Kind::Var && clang_Cursor_getStorageClass(c) != CX_SC_Extern);
        let name = string(clang_getCursorSpelling(c));
        let loc = clang_getCursorLocation(c);
        let name_at = match (spelling_in(ctx.main, loc), expansion_in(ctx.main, loc)) {
            (Some(s), Some((e, _))) if s == e => Some(s),
            _ => None,
        };
        let refs = if is_def && matches!(kind, Kind::Func | Kind::Var) { collect_refs(ctx.main, c) } else { vec![] };
        let lay = if is_def && kind == Kind::Record { Some(layout(c)) } else { None };
        ctx.decls.push(Decl {
            kind,
            usr: string(clang_getCursorUSR(c)),
            name,
            start,
            end: end.max(start),
            line,
            name_at,
            is_def,
            internal: clang_getCursorLinkage(c) == CXLinkage_Internal,
            inline: kind == Kind::Func && clang_Cursor_isFunctionInlined(c) != 0,
            ty: string(clang_getTypeSpelling(clang_getCursorType(c))),
            refs,
            layout: lay,
        });
    }
    CXChildVisit_Continue
}

/// Parses `file` with `args` (compiler flags, no `-c`/`-o`/source, paths
/// absolute) and returns its top-level declarations in file order, or the
/// compiler's errors.
pub fn parse(file: &Path, args: &[String]) -> Result<Vec<Decl>, String> {
    if let Some(w) = args.iter().find(|a| a.starts_with("-working-directory")) {
        return Err(format!("{w}: libclang would change the current directory of the whole process"));
    }
    if !clang_sys::is_loaded() {
        clang_sys::load().map_err(|e| format!("cannot load libclang (set LIBCLANG_PATH): {e}"))?;
    }
    let cfile = CString::new(file.display().to_string()).map_err(|e| e.to_string())?;
    let cargs: Vec<CString> = args.iter().filter_map(|a| CString::new(a.as_str()).ok()).collect();
    let argv: Vec<*const std::os::raw::c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: every pointer passed points into `cfile`/`cargs`/`argv`, which
    // outlive the calls; the index and translation unit are disposed of
    // once, after the last use of any cursor or location they own.
    unsafe {
        let index = clang_createIndex(0, 0);
        let mut tu: CXTranslationUnit = std::ptr::null_mut();
        let err = clang_parseTranslationUnit2(
            index,
            cfile.as_ptr(),
            argv.as_ptr(),
            argv.len() as i32,
            std::ptr::null_mut(),
            0,
            CXTranslationUnit_None,
            &mut tu,
        );
        if err != CXError_Success || tu.is_null() {
            clang_disposeIndex(index);
            return Err(format!("libclang could not parse {} (error {err})", file.display()));
        }
        let mut errors = Vec::new();
        for i in 0..clang_getNumDiagnostics(tu) {
            let d = clang_getDiagnostic(tu, i);
            if clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error {
                errors.push(string(clang_formatDiagnostic(d, clang_defaultDiagnosticDisplayOptions())));
            }
            clang_disposeDiagnostic(d);
        }
        let main = clang_getFile(tu, cfile.as_ptr());
        let mut ctx = Ctx { main, decls: Vec::new() };
        if errors.is_empty() && !main.is_null() {
            clang_visitChildren(
                clang_getTranslationUnitCursor(tu),
                top_visitor,
                &mut ctx as *mut Ctx as *mut c_void,
            );
        }
        clang_disposeTranslationUnit(tu);
        clang_disposeIndex(index);
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(ctx.decls)
    }
}
