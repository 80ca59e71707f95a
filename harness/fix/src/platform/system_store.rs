//! Reading a certificate store of the running Windows machine, read-only,
//! as the serialized elements crypt32 itself writes
//! (`CertSerializeCertificateStoreElement`: the bytes of a registry `Blob`
//! value or of one element of a `.sst`). `certmig scan --system-store SMS`
//! reads the LocalMachine `SMS` store this way, so an administrator can check
//! a machine without exporting it. Windows only; the store is opened with
//! `CERT_STORE_READONLY_FLAG | CERT_STORE_OPEN_EXISTING_FLAG`, so nothing is
//! created or changed.

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;

use windows_sys::Win32::Security::Cryptography::{
    CertCloseStore, CertEnumCertificatesInStore, CertOpenStore,
    CertSerializeCertificateStoreElement, CERT_STORE_OPEN_EXISTING_FLAG, CERT_STORE_PROV_SYSTEM_W,
    CERT_STORE_READONLY_FLAG, CERT_SYSTEM_STORE_CURRENT_USER, CERT_SYSTEM_STORE_LOCAL_MACHINE,
};

/// Which system store location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    LocalMachine,
    CurrentUser,
}

impl Location {
    /// How reports name it (`LocalMachine\SMS`).
    pub fn name(self) -> &'static str {
        match self {
            Location::LocalMachine => "LocalMachine",
            Location::CurrentUser => "CurrentUser",
        }
    }
}

/// The serialized element of every certificate in the system store `name`
/// at `location`, in crypt32's enumeration order.
pub fn read(location: Location, name: &str) -> io::Result<Vec<Vec<u8>>> {
    let wide: Vec<u16> = OsStr::new(name).encode_wide().chain(Some(0)).collect();
    let flags = CERT_STORE_READONLY_FLAG
        | CERT_STORE_OPEN_EXISTING_FLAG
        | match location {
            Location::LocalMachine => CERT_SYSTEM_STORE_LOCAL_MACHINE,
            Location::CurrentUser => CERT_SYSTEM_STORE_CURRENT_USER,
        };
    // SAFETY: a system store opened by name; `wide` is NUL-terminated and
    // alive across the call.
    let store =
        unsafe { CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, flags, wide.as_ptr().cast()) };
    if store.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut ctx = std::ptr::null_mut();
    let result = loop {
        // SAFETY: `store` is open; `ctx` is null or the context the previous
        // call returned (which this call frees).
        ctx = unsafe { CertEnumCertificatesInStore(store, ctx) };
        if ctx.is_null() {
            break Ok(());
        }
        let mut len = 0u32;
        // SAFETY: a size query: null buffer, `len` a valid out-pointer.
        if unsafe { CertSerializeCertificateStoreElement(ctx, 0, std::ptr::null_mut(), &mut len) }
            == 0
        {
            break Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; len as usize];
        // SAFETY: `buf` has the `len` bytes the size query asked for.
        if unsafe { CertSerializeCertificateStoreElement(ctx, 0, buf.as_mut_ptr(), &mut len) } == 0
        {
            break Err(io::Error::last_os_error());
        }
        buf.truncate(len as usize);
        out.push(buf);
    };
    if !ctx.is_null() {
        // SAFETY: the enumeration stopped early: free the context it holds.
        unsafe {
            windows_sys::Win32::Security::Cryptography::CertFreeCertificateContext(ctx);
        }
    }
    // SAFETY: closed once.
    unsafe { CertCloseStore(store, 0) };
    result.map(|()| out)
}
