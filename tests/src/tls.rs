//! TLS material for tests: a throwaway self-signed certificate.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::{X509NameBuilder, X509};

/// A self-signed certificate for `localhost` and its key, as PEM.
pub fn self_signed() -> (Vec<u8>, Vec<u8>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "localhost").expect("CN");
    let name = name.build();
    let mut b = X509::builder().expect("x509");
    b.set_version(2).expect("version");
    let serial = BigNum::from_u32(1).and_then(|n| n.to_asn1_integer());
    b.set_serial_number(&serial.expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("not before");
    b.set_not_after(&Asn1Time::days_from_now(1).expect("time"))
        .expect("not after");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    let cert = b.build().to_pem().expect("cert pem");
    let key = key.private_key_to_pem_pkcs8().expect("key pem");
    (cert, key)
}
