//! The one place that talks to libsasl2's C interface. Everything here is `unsafe` by nature;
//! each block says why it is sound, and the rest of `auth` sees only safe functions.
//!
//! The library is linked by its runtime name (`libsasl2.so.2`), so building needs no
//! development package, only the library Debian's Cyrus itself links.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

/// `SASL_OK`.
pub const OK: c_int = 0;
/// `SASL_CONTINUE`: another step is needed.
pub const CONTINUE: c_int = 1;
/// `SASL_FAIL`.
pub const FAIL: c_int = -1;
/// `SASL_BADAUTH`.
pub const BADAUTH: c_int = -13;
/// `SASL_NOUSER`.
pub const NOUSER: c_int = -20;

const CB_LIST_END: c_ulong = 0;
const CB_GETOPT: c_ulong = 1;
const CB_LOG: c_ulong = 2;
const CB_CANON_USER: c_ulong = 0x8007;
const CB_PROXY_POLICY: c_ulong = 0x8001;
const USERNAME: c_int = 0;
const SSF_EXTERNAL: c_int = 100;
const SEC_PROPS: c_int = 101;
const AUTH_EXTERNAL: c_int = 102;

#[repr(C)]
struct Callback {
    id: c_ulong,
    proc_: Option<unsafe extern "C" fn()>,
    context: *mut c_void,
}

#[repr(C)]
struct SecProps {
    min_ssf: c_uint,
    max_ssf: c_uint,
    maxbufsize: c_uint,
    security_flags: c_uint,
    property_names: *const *const c_char,
    property_values: *const *const c_char,
}

#[repr(C)]
pub struct RawConn {
    _opaque: [u8; 0],
}

#[link(name = "libsasl2.so.2", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    fn sasl_server_init(callbacks: *const Callback, appname: *const c_char) -> c_int;
    fn sasl_server_new(
        service: *const c_char,
        server_fqdn: *const c_char,
        user_realm: *const c_char,
        iplocalport: *const c_char,
        ipremoteport: *const c_char,
        callbacks: *const Callback,
        flags: c_uint,
        pconn: *mut *mut RawConn,
    ) -> c_int;
    fn sasl_dispose(pconn: *mut *mut RawConn);
    fn sasl_setprop(conn: *mut RawConn, propnum: c_int, value: *const c_void) -> c_int;
    fn sasl_getprop(conn: *mut RawConn, propnum: c_int, pvalue: *mut *const c_void) -> c_int;
    fn sasl_checkpass(
        conn: *mut RawConn,
        user: *const c_char,
        userlen: c_uint,
        pass: *const c_char,
        passlen: c_uint,
    ) -> c_int;
    fn sasl_checkapop(
        conn: *mut RawConn,
        challenge: *const c_char,
        challen: c_uint,
        response: *const c_char,
        resplen: c_uint,
    ) -> c_int;
    fn sasl_listmech(
        conn: *mut RawConn,
        user: *const c_char,
        prefix: *const c_char,
        sep: *const c_char,
        suffix: *const c_char,
        result: *mut *const c_char,
        plen: *mut c_uint,
        pcount: *mut c_int,
    ) -> c_int;
    fn sasl_server_start(
        conn: *mut RawConn,
        mech: *const c_char,
        clientin: *const c_char,
        clientinlen: c_uint,
        serverout: *mut *const c_char,
        serveroutlen: *mut c_uint,
    ) -> c_int;
    fn sasl_server_step(
        conn: *mut RawConn,
        clientin: *const c_char,
        clientinlen: c_uint,
        serverout: *mut *const c_char,
        serveroutlen: *mut c_uint,
    ) -> c_int;
    fn sasl_errdetail(conn: *mut RawConn) -> *const c_char;
    fn sasl_errstring(
        code: c_int,
        langlist: *const c_char,
        outlang: *mut *const c_char,
    ) -> *const c_char;
}

/// Looks up a SASL option for libsasl2; `None` when it is not configured.
pub type OptionLookup = fn(plugin: Option<&str>, option: &str) -> Option<&'static CStr>;
/// Canonicalises a user name for libsasl2; `None` refuses it.
pub type Canonify = fn(user: &str) -> Option<String>;
/// Whether the authenticated `authid` may act as `authzid` (a different user).
pub type ProxyPolicy = fn(authzid: &str, authid: &str) -> bool;

static LOOKUP: OnceLock<OptionLookup> = OnceLock::new();
static CANON: OnceLock<Canonify> = OnceLock::new();
static PROXY: OnceLock<ProxyPolicy> = OnceLock::new();

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn proxy_cb(
    _conn: *mut RawConn,
    _context: *mut c_void,
    requested: *const c_char,
    rlen: c_uint,
    auth_identity: *const c_char,
    alen: c_uint,
    _def_realm: *const c_char,
    _urlen: c_uint,
    _propctx: *mut c_void,
) -> c_int {
    // SAFETY: libsasl2 gives `rlen` and `alen` readable bytes at the two identities.
    unsafe {
        if requested.is_null() || auth_identity.is_null() {
            return BADAUTH;
        }
        let authz = std::slice::from_raw_parts(requested.cast::<u8>(), rlen as usize);
        let authn = std::slice::from_raw_parts(auth_identity.cast::<u8>(), alen as usize);
        if authz == authn {
            return OK;
        }
        let (Ok(authz), Ok(authn)) = (std::str::from_utf8(authz), std::str::from_utf8(authn))
        else {
            return BADAUTH;
        };
        match PROXY.get() {
            Some(policy) if policy(authz, authn) => OK,
            _ => BADAUTH,
        }
    }
}

unsafe extern "C" fn log_cb(_context: *mut c_void, level: c_int, message: *const c_char) -> c_int {
    if message.is_null() {
        return OK;
    }
    // SAFETY: libsasl2 passes a NUL-terminated message, valid for the call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    // libsasl2's levels: 1 error, 2 fail, 3 warn, 4 note and above are debugging.
    let lvl = match level {
        1 => crate::syslog::Level::Err,
        2 | 3 => crate::syslog::Level::Notice,
        _ => crate::syslog::Level::Debug,
    };
    crate::syslog::log(lvl, &text);
    OK
}

unsafe extern "C" fn getopt_cb(
    _context: *mut c_void,
    plugin: *const c_char,
    option: *const c_char,
    result: *mut *const c_char,
    len: *mut c_uint,
) -> c_int {
    // SAFETY: libsasl2 passes NUL-terminated strings (plugin may be NULL) and valid out
    // pointers (len may be NULL).
    unsafe {
        let Some(lookup) = LOOKUP.get() else {
            return FAIL;
        };
        if option.is_null() || result.is_null() {
            return FAIL;
        }
        let plugin = (!plugin.is_null())
            .then(|| CStr::from_ptr(plugin).to_str().ok())
            .flatten();
        let Ok(option) = CStr::from_ptr(option).to_str() else {
            return FAIL;
        };
        match lookup(plugin, option) {
            Some(v) => {
                // The value is 'static, so the pointer outlives every use libsasl2 makes.
                *result = v.as_ptr();
                if !len.is_null() {
                    *len = v.to_bytes().len() as c_uint;
                }
                OK
            }
            None => FAIL,
        }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn canon_cb(
    _conn: *mut RawConn,
    _context: *mut c_void,
    input: *const c_char,
    inlen: c_uint,
    _flags: c_uint,
    _realm: *const c_char,
    out: *mut c_char,
    out_max: c_uint,
    out_len: *mut c_uint,
) -> c_int {
    // SAFETY: libsasl2 gives `inlen` readable bytes at `input` and `out_max` writable bytes at
    // `out`; we write at most out_max - 1 bytes plus a NUL.
    unsafe {
        let Some(canon) = CANON.get() else {
            return FAIL;
        };
        if input.is_null() || out.is_null() || out_len.is_null() {
            return FAIL;
        }
        let bytes = std::slice::from_raw_parts(input.cast::<u8>(), inlen as usize);
        let Ok(user) = std::str::from_utf8(bytes) else {
            return BADAUTH;
        };
        let Some(c) = canon(user) else {
            return BADAUTH;
        };
        if c.len() + 1 > out_max as usize || c.as_bytes().contains(&0) {
            return BADAUTH;
        }
        ptr::copy_nonoverlapping(c.as_ptr(), out.cast::<u8>(), c.len());
        *out.add(c.len()) = 0;
        *out_len = c.len() as c_uint;
        OK
    }
}

/// `sasl_server_init` with our option lookup and user canonicalisation; call it
/// before any other function here.
pub fn server_init(
    lookup: OptionLookup,
    canon: Canonify,
    proxy: ProxyPolicy,
    appname: &CStr,
) -> c_int {
    // The callback table must outlive the library's use of it: leak it once.
    let table: &'static [Callback; 5] = Box::leak(Box::new([
        Callback {
            id: CB_PROXY_POLICY,
            // SAFETY: libsasl2 calls a PROXY_POLICY callback with exactly proxy_cb's
            // signature (sasl_authorize_t).
            proc_: Some(unsafe {
                std::mem::transmute::<
                    unsafe extern "C" fn(
                        *mut RawConn,
                        *mut c_void,
                        *const c_char,
                        c_uint,
                        *const c_char,
                        c_uint,
                        *const c_char,
                        c_uint,
                        *mut c_void,
                    ) -> c_int,
                    unsafe extern "C" fn(),
                >(proxy_cb)
            }),
            context: ptr::null_mut(),
        },
        Callback {
            id: CB_LOG,
            // SAFETY: libsasl2 calls a LOG callback with exactly log_cb's signature.
            proc_: Some(unsafe {
                std::mem::transmute::<
                    unsafe extern "C" fn(*mut c_void, c_int, *const c_char) -> c_int,
                    unsafe extern "C" fn(),
                >(log_cb)
            }),
            context: ptr::null_mut(),
        },
        Callback {
            id: CB_GETOPT,
            // SAFETY: libsasl2 calls a GETOPT callback with exactly getopt_cb's signature;
            // the cast to the generic `void (*)(void)` is how its API takes callbacks.
            proc_: Some(unsafe {
                std::mem::transmute::<
                    unsafe extern "C" fn(
                        *mut c_void,
                        *const c_char,
                        *const c_char,
                        *mut *const c_char,
                        *mut c_uint,
                    ) -> c_int,
                    unsafe extern "C" fn(),
                >(getopt_cb)
            }),
            context: ptr::null_mut(),
        },
        Callback {
            id: CB_CANON_USER,
            // SAFETY: as above, for the CANON_USER signature.
            proc_: Some(unsafe {
                std::mem::transmute::<
                    unsafe extern "C" fn(
                        *mut RawConn,
                        *mut c_void,
                        *const c_char,
                        c_uint,
                        c_uint,
                        *const c_char,
                        *mut c_char,
                        c_uint,
                        *mut c_uint,
                    ) -> c_int,
                    unsafe extern "C" fn(),
                >(canon_cb)
            }),
            context: ptr::null_mut(),
        },
        Callback {
            id: CB_LIST_END,
            proc_: None,
            context: ptr::null_mut(),
        },
    ]));
    // A second init keeps the first functions, as libsasl2 keeps its first callbacks.
    let _ = LOOKUP.set(lookup);
    let _ = CANON.set(canon);
    let _ = PROXY.set(proxy);
    // SAFETY: `table` is 'static and ends with CB_LIST_END; `appname` is NUL-terminated and
    // libsasl2 copies it.
    unsafe { sasl_server_init(table.as_ptr(), appname.as_ptr()) }
}

/// An owned `sasl_conn_t`, disposed of on drop.
pub struct Conn(*mut RawConn);

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: self.0 came from sasl_server_new and is disposed of exactly once here.
        unsafe { sasl_dispose(&mut self.0) }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sasl_conn_t")
    }
}

fn opt_ptr(s: Option<&CStr>) -> *const c_char {
    s.map_or(ptr::null(), CStr::as_ptr)
}

/// `sasl_server_new` plus the security properties Cyrus sets on every connection.
pub fn server_new(
    service: &CStr,
    fqdn: &CStr,
    realm: Option<&CStr>,
    sec_flags: u32,
    max_ssf: u32,
) -> Result<Conn, c_int> {
    let mut raw: *mut RawConn = ptr::null_mut();
    // SAFETY: all strings are NUL-terminated (libsasl2 copies them); `raw` is a valid out
    // pointer; no per-connection callbacks.
    let r = unsafe {
        sasl_server_new(
            service.as_ptr(),
            fqdn.as_ptr(),
            opt_ptr(realm),
            ptr::null(),
            ptr::null(),
            ptr::null(),
            0,
            &mut raw,
        )
    };
    if r != OK || raw.is_null() {
        return Err(if r == OK { FAIL } else { r });
    }
    let conn = Conn(raw);
    let props = SecProps {
        min_ssf: 0,
        max_ssf,
        maxbufsize: 4096,
        security_flags: sec_flags,
        property_names: ptr::null(),
        property_values: ptr::null(),
    };
    // SAFETY: conn.0 is live; libsasl2 copies the properties struct before returning.
    let r = unsafe { sasl_setprop(conn.0, SEC_PROPS, (&props as *const SecProps).cast()) };
    if r != OK {
        return Err(r);
    }
    let ext: c_uint = 0;
    // SAFETY: as above; SSF_EXTERNAL takes a pointer to a sasl_ssf_t (unsigned).
    let r = unsafe { sasl_setprop(conn.0, SSF_EXTERNAL, (&ext as *const c_uint).cast()) };
    if r != OK {
        return Err(r);
    }
    Ok(conn)
}

/// Tells libsasl2 about a security layer below it (TLS): its strength and, when the client
/// proved an identity there (a certificate), that identity (`SASL_AUTH_EXTERNAL`).
pub fn set_external(conn: &mut Conn, ssf: u32, auth_id: Option<&CStr>) -> c_int {
    let ext: c_uint = ssf;
    // SAFETY: conn.0 is live; SSF_EXTERNAL takes a pointer to a sasl_ssf_t, copied before
    // sasl_setprop returns.
    let r = unsafe { sasl_setprop(conn.0, SSF_EXTERNAL, (&ext as *const c_uint).cast()) };
    if r != OK {
        return r;
    }
    // SAFETY: conn.0 is live; AUTH_EXTERNAL takes a NUL-terminated string (or NULL), which
    // libsasl2 copies.
    unsafe { sasl_setprop(conn.0, AUTH_EXTERNAL, opt_ptr(auth_id).cast()) }
}

fn len32(b: &[u8]) -> Result<c_uint, c_int> {
    c_uint::try_from(b.len()).map_err(|_| FAIL)
}

/// `sasl_checkpass`. Both strings are passed NUL-terminated, since libsasl2's password
/// verifiers read the password as a C string whatever length it is given.
pub fn checkpass(conn: &mut Conn, user: &[u8], pass: &[u8]) -> c_int {
    let (Ok(ul), Ok(pl)) = (len32(user), len32(pass)) else {
        return FAIL;
    };
    let (Ok(u), Ok(p)) = (CString::new(user), CString::new(pass)) else {
        return FAIL;
    };
    // SAFETY: both are NUL-terminated with `ul`/`pl` bytes before the NUL; libsasl2 does
    // not keep them.
    unsafe { sasl_checkpass(conn.0, u.as_ptr(), ul, p.as_ptr(), pl) }
}

/// `sasl_checkapop`: an APOP response (`user digest`) to `challenge`.
pub fn checkapop(conn: &mut Conn, challenge: &[u8], response: &[u8]) -> c_int {
    let (Ok(cl), Ok(rl)) = (len32(challenge), len32(response)) else {
        return FAIL;
    };
    let (Ok(c), Ok(r)) = (CString::new(challenge), CString::new(response)) else {
        return FAIL;
    };
    // SAFETY: both are NUL-terminated with `cl`/`rl` bytes before the NUL; libsasl2 does not
    // keep them.
    unsafe { sasl_checkapop(conn.0, c.as_ptr(), cl, r.as_ptr(), rl) }
}

/// Whether libsasl2 can check APOP with this setup (`sasl_checkapop` with no challenge).
pub fn apop_supported(conn: &mut Conn) -> bool {
    // SAFETY: NULL challenge and response with zero lengths is the documented probe.
    unsafe { sasl_checkapop(conn.0, ptr::null(), 0, ptr::null(), 0) == OK }
}

/// `sasl_listmech`: the list as one string and the count.
pub fn listmech(
    conn: &mut Conn,
    prefix: &CStr,
    sep: &CStr,
    suffix: &CStr,
) -> Result<(String, i32), c_int> {
    let mut out: *const c_char = ptr::null();
    let mut count: c_int = 0;
    // SAFETY: NUL-terminated inputs, valid out pointers; the result lives in the connection
    // and is copied before the connection is used again.
    let r = unsafe {
        sasl_listmech(
            conn.0,
            ptr::null(),
            prefix.as_ptr(),
            sep.as_ptr(),
            suffix.as_ptr(),
            &mut out,
            ptr::null_mut(),
            &mut count,
        )
    };
    if r != OK || out.is_null() {
        return Err(if r == OK { FAIL } else { r });
    }
    // SAFETY: libsasl2 returned a NUL-terminated string owned by the connection.
    let s = unsafe { CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    Ok((s, count))
}

fn take_out(out: *const c_char, len: c_uint) -> Vec<u8> {
    if out.is_null() {
        return Vec::new();
    }
    // SAFETY: libsasl2 gives `len` readable bytes at `out`, valid until the next call on the
    // connection; we copy them now.
    unsafe { std::slice::from_raw_parts(out.cast::<u8>(), len as usize) }.to_vec()
}

/// `sasl_server_start`: the result code and the server's challenge.
pub fn server_start(conn: &mut Conn, mech: &CStr, clientin: Option<&[u8]>) -> (c_int, Vec<u8>) {
    let (inp, inl) = match clientin {
        Some(b) => match len32(b) {
            Ok(l) => (b.as_ptr().cast::<c_char>(), l),
            Err(e) => return (e, Vec::new()),
        },
        None => (ptr::null(), 0),
    };
    let mut out: *const c_char = ptr::null();
    let mut outlen: c_uint = 0;
    // SAFETY: `inp` covers `inl` bytes or is NULL (no initial response); out pointers valid.
    let r = unsafe { sasl_server_start(conn.0, mech.as_ptr(), inp, inl, &mut out, &mut outlen) };
    (r, take_out(out, outlen))
}

/// `sasl_server_step`.
pub fn server_step(conn: &mut Conn, clientin: &[u8]) -> (c_int, Vec<u8>) {
    let Ok(inl) = len32(clientin) else {
        return (FAIL, Vec::new());
    };
    let mut out: *const c_char = ptr::null();
    let mut outlen: c_uint = 0;
    // SAFETY: `clientin` covers `inl` bytes; out pointers valid.
    let r =
        unsafe { sasl_server_step(conn.0, clientin.as_ptr().cast(), inl, &mut out, &mut outlen) };
    (r, take_out(out, outlen))
}

/// The authenticated user name (`SASL_USERNAME`).
pub fn username(conn: &mut Conn) -> Option<String> {
    let mut v: *const c_void = ptr::null();
    // SAFETY: valid out pointer; the value is a NUL-terminated string owned by the connection.
    let r = unsafe { sasl_getprop(conn.0, USERNAME, &mut v) };
    if r != OK || v.is_null() {
        return None;
    }
    // SAFETY: see above; copied at once.
    Some(
        unsafe { CStr::from_ptr(v.cast()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// `sasl_errstring` in English.
pub fn errstring(code: c_int) -> String {
    // SAFETY: sasl_errstring returns a pointer to a static string (never NULL in practice,
    // checked anyway).
    let p = unsafe { sasl_errstring(code, ptr::null(), ptr::null_mut()) };
    if p.is_null() {
        return format!("SASL error {code}");
    }
    // SAFETY: static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Keeps a C string alive for the process, for option values handed to libsasl2.
pub fn leak_cstring(s: &str) -> Option<&'static CStr> {
    CString::new(s)
        .ok()
        .map(|c| &*Box::leak(c.into_boxed_c_str()))
}

/// `sasl_errdetail`: what went wrong on this connection, for the log.
pub fn errdetail(conn: &mut Conn) -> String {
    // SAFETY: conn.0 is live; the result is a NUL-terminated string owned by the connection
    // (or NULL), copied at once.
    let p = unsafe { sasl_errdetail(conn.0) };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: see above.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
