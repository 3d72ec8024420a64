//! Tables of imapd.conf inputs and what Cyrus 3.6.1 makes of them (checked with Debian's
//! `cyr_info`), plus the promise that no input makes the parser panic.

use super::*;
use proptest::prelude::*;

const DIR: &str = "configdirectory: /var/lib/cyrus\n";

fn parse(text: &str) -> Result<Config> {
    Config::parse(text, Path::new("/etc/imapd.conf"), None)
}

fn parse_as(text: &str, service: &str) -> Result<Config> {
    Config::parse(text, Path::new("/etc/imapd.conf"), Some(service))
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn err(text: &str) -> (usize, String) {
    match parse(text) {
        Err(Error::Config { line, msg, .. }) => (line, msg),
        Err(e) => panic!("{text:?}: unexpected error {e}"),
        Ok(_) => panic!("{text:?}: parsed"),
    }
}

#[test]
fn syntax_rules() {
    // (file text after configdirectory, option, expected string value)
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("admins: a b\n", "admins", Some("a b")),
        ("   admins:a\n", "admins", Some("a")),
        ("ADMINS: a\n", "admins", Some("a")),
        ("admins: a   b  \n", "admins", Some("a   b")),
        ("admins: #x\n", "admins", Some("#x")),
        ("admins: a\r\n", "admins", Some("a")),
        ("adm\\\nins: x\\\n y\n", "admins", Some("x y")),
        ("# comment \\\nadmins: x\n", "admins", Some("")),
        ("\n\r\n \t # x\n", "admins", Some("")),
        ("admins: a\\", "admins", Some("a\\")),
        ("admins: a\0junk\n", "admins", Some("a")),
        ("partition-Default: /p\n", "partition-default", Some("/p")),
        ("Foo_Bar: X\n", "foo_bar", Some("X")),
        (
            "lmtpsocket: {CONFIGDIRECTORY}/x\n",
            "lmtpsocket",
            Some("/var/lib/cyrus/x"),
        ),
        (
            "sievedir: {configdirectory}\n",
            "sievedir",
            Some("/var/lib/cyrus"),
        ),
        (
            "partition-x: {configdirectory}/x\n",
            "partition-x",
            Some("{configdirectory}/x"),
        ),
        ("", "idlesocket", Some("/var/lib/cyrus/socket/idle")),
        ("", "mboxlist_db", Some("twoskip")),
        ("", "serverinfo", Some("on")),
        ("serverinfo: min\n", "serverinfo", Some("min")),
        ("", "timeout", Some("32m")),
        ("", "servername", None),
        (
            "defaultpartition: Default\n",
            "defaultpartition",
            Some("default"),
        ),
    ];
    for (text, name, want) in cases {
        let c = ok(&format!("{DIR}{text}"));
        assert_eq!(c.string(name), *want, "{text:?}");
    }
}

#[test]
fn errors_with_their_lines() {
    let cases: &[(&str, usize, &str)] = &[
        ("admins \\\n: x\n", 3, "invalid option name"),
        ("admins : x\n", 2, "invalid option name"),
        ("a.b: x\n", 2, "invalid option name"),
        (":x\n", 2, "invalid option name"),
        ("@@include: x\n", 2, "invalid option name"),
        ("@foo: x\n", 2, "invalid directive"),
        ("@: x\n", 2, "invalid directive"),
        ("admins:\n", 2, "empty option value"),
        ("admins:   \n", 2, "empty option value"),
        (
            "admins: a\nADMINS: b\n",
            3,
            "option 'admins' was specified twice in config file",
        ),
        (
            "foo: a\nFOO: b\n",
            3,
            "option 'foo' was specified twice in config file",
        ),
        ("allowapop: zzz\n", 2, "non-switch value for allowapop"),
        ("maxword: 08\n", 2, "non-integer value for maxword"),
        ("timeout: 5 m\n", 2, "unparsable duration '5 m' for timeout"),
        ("serverinfo: zzz\n", 2, "invalid value 'zzz' for serverinfo"),
        (
            "httpmodules: caldav x\n",
            2,
            "invalid value 'x' for httpmodules",
        ),
        (
            "defaultpartition: de-f\n",
            0,
            "defaultpartition option contains non-alnum character",
        ),
        (
            "createonpost: 1\ncreateonpost: 0\n",
            3,
            "option 'createonpost' was specified twice in config file",
        ),
    ];
    for (text, line, msg) in cases {
        assert_eq!(
            err(&format!("{DIR}{text}")),
            (*line, msg.to_string()),
            "{text:?}"
        );
    }
    assert_eq!(
        err("admins: a\n"),
        (
            0,
            "configdirectory option not specified in configuration file".to_string()
        )
    );
}

#[test]
fn configdirectory_is_only_required_not_checked() {
    // Cyrus 3.6.1 accepts relative and root configdirectory values.
    assert_eq!(
        ok("configdirectory: tmp\n").config_directory(),
        Path::new("tmp")
    );
    assert_eq!(
        ok("configdirectory: /\n").config_directory(),
        Path::new("/")
    );
}

#[test]
fn typed_lookups() {
    let c = ok(&format!(
        "{DIR}allowplaintext: yes\nmaxword: 0x100\ntimeout: 1h30\npopminpoll: 2\n\
         httpmodules: jmap caldav\nsieve_extensions: imapflags fileinto\n\
         sasl_pwcheck_method: auxprop\n"
    ));
    assert!(c.switch("allowplaintext"));
    assert!(c.switch("allowapop"));
    assert!(!c.switch("allowanonymouslogin"));
    assert_eq!(c.int("maxword"), 256);
    assert_eq!(c.int("autocreate_quota"), -1);
    assert_eq!(c.duration_secs("timeout"), Some(5400));
    assert_eq!(c.duration_secs("popminpoll"), Some(120));
    assert_eq!(c.duration_secs("imapidletimeout"), None);
    assert_eq!(c.duration_secs("archive_after"), Some(7 * 86_400));
    assert_eq!(c.duration_secs("popexpiretime"), Some(-86_400));
    assert_eq!(c.bitfield("httpmodules"), ["caldav", "jmap"]);
    assert_eq!(c.bitfield("sieve_extensions"), ["fileinto", "imap4flags"]);
    assert_eq!(c.bitfield("event_groups"), ["message", "mailbox"]);
    assert_eq!(c.bitfield("metapartition_files"), Vec::<&str>::new());
    assert_eq!(c.string("sasl_pwcheck_method"), Some("auxprop"));
    assert_eq!(c.string("sasl_mech_list"), None);
    assert!(c.is_set("timeout"));
    assert!(!c.is_set("maxquoted"));
    assert!(!c.is_default("timeout"));
    assert!(c.is_default("maxquoted"));
    assert!(c.is_default("idlesocket"));
    assert!(!c.is_default("partition-default"));
}

#[test]
fn service_overrides() {
    let text = format!("{DIR}imap_timeout: 5\ntimeout: 7\nimap_foo: 1\nfoo: 2\n");
    let c = parse_as(&text, "imap").expect("parses");
    assert_eq!(c.string("timeout"), Some("5"));
    assert_eq!(c.string("foo"), Some("1"));
    let c = parse_as(&format!("{DIR}timeout: 7\nimap_timeout: 5\n"), "IMAP").expect("parses");
    assert_eq!(c.string("timeout"), Some("5"));
    // Another service sees the generic value, and the specific key as an overflow key.
    let c = parse_as(&text, "pop3").expect("parses");
    assert_eq!(c.string("timeout"), Some("7"));
    assert_eq!(c.overflow_string("imap_timeout"), Some("5"));
    // Without a service, imap_timeout is just another free-form key.
    assert_eq!(ok(&text).string("foo"), Some("2"));
    // The specific form may itself be given only once.
    let text = format!("{DIR}timeout: 7\nIMAP_timeout: 5\nimap_timeout: 6\n");
    assert!(parse_as(&text, "imap").is_err());
    // An empty option after the service prefix is refused (Cyrus aborts).
    assert!(parse_as(&format!("{DIR}imap_: 5\n"), "imap").is_err());
    assert!(parse(&format!("{DIR}imap_: 5\n")).is_ok());
    // The service may even supply the configdirectory.
    let c = parse_as("imap_configdirectory: /x\n", "imap").expect("parses");
    assert_eq!(c.config_directory(), Path::new("/x"));
}

#[test]
fn deprecated_names_carry_over() {
    let c = ok(&format!(
        "{DIR}createonpost: 1\nautocreatequota: 7\ntlscache_db: skiplist\n"
    ));
    assert!(c.switch("autocreate_post"));
    assert_eq!(c.int("autocreate_quota"), 7);
    assert_eq!(c.string("tls_sessions_db"), Some("skiplist"));
    // The raw text is also kept under the old name, as Cyrus does.
    assert_eq!(c.overflow_string("createonpost"), Some("1"));
    // The preferred name wins when both are given, whatever the order.
    let c = ok(&format!("{DIR}autocreate_post: 0\ncreateonpost: 1\n"));
    assert!(!c.switch("autocreate_post"));
    // A text value moves: the old name is left unset.
    let c = ok(&format!("{DIR}tls_cert_file: /c\n"));
    assert_eq!(c.string("tls_server_cert"), Some("/c"));
    let old = c
        .options()
        .find(|(d, _)| d.name == "tls_cert_file")
        .map(|(_, v)| v.clone());
    assert_eq!(old, Some(Value::Str(None)));
    // A generic deprecated line after a service-specific one is ignored altogether.
    let text = format!("{DIR}imap_createonpost: 1\ncreateonpost: 0\n");
    let c = parse_as(&text, "imap").expect("parses");
    assert!(c.switch("autocreate_post"));
    assert!(c.overflow().all(|(k, _)| k != "createonpost"));
    assert_eq!(c.overflow_string("createonpost"), Some("1"));
}

#[test]
fn includes() {
    let dir = std::env::temp_dir().join(format!("cyrus-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let inc = dir.join("inc.conf");
    std::fs::write(&inc, "admins: inc\n").expect("write");
    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "x: 1\ny\n").expect("write");
    let main = dir.join("imapd.conf");
    let inc_s = inc.to_string_lossy();

    let c = Config::parse(&format!("{DIR}@include: {inc_s}\n"), &main, None).expect("parses");
    assert_eq!(c.string("admins"), Some("inc"));
    // Relative to the including file works too (Cyrus itself uses the working directory).
    let c = Config::parse(&format!("{DIR}@INCLUDE: inc.conf\n"), &main, None).expect("parses");
    assert_eq!(c.string("admins"), Some("inc"));

    let twice = format!("{DIR}@include: {inc_s}\n@include: {inc_s}\n");
    assert!(matches!(
        Config::parse(&twice, &main, None),
        Err(Error::Config { msg, .. }) if msg.contains("included twice")
    ));
    let missing = format!("{DIR}@include: {}\n", dir.join("nope").to_string_lossy());
    assert!(matches!(
        Config::parse(&missing, &main, None),
        Err(Error::Config { line: 2, msg, .. }) if msg.starts_with("can't open")
    ));
    // An error inside an included file names that file and its line.
    let text = format!("{DIR}@include: {}\n", bad.to_string_lossy());
    match Config::parse(&text, &main, None) {
        Err(Error::Config { file, line, .. }) => assert_eq!((file, line), (bad.clone(), 2)),
        other => panic!("{other:?}"),
    }
    // A file including itself is caught.
    let main_s = main.to_string_lossy().into_owned();
    std::fs::write(&main, format!("{DIR}@include: {main_s}\n")).expect("write");
    assert!(Config::load(&main, None).is_err());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn overflow_order_is_cyrus_order() {
    let c = ok(&format!(
        "{DIR}partition-default: /s\npartition-news: /n\nnewsspool: /ns\n\
         sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
    ));
    let keys: Vec<&str> = c.overflow().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "sasl_pwcheck_method",
            "newsspool",
            "sasl_auxprop_plugin",
            "partition-default",
            "partition-news"
        ]
    );
}

#[test]
fn default_path_is_etc() {
    if std::env::var_os("CYRUS_PREFIX").is_none() {
        assert_eq!(Config::default_path(), PathBuf::from("/etc/imapd.conf"));
        assert_eq!(MasterConf::default_path(), PathBuf::from("/etc/cyrus.conf"));
    }
}

#[test]
fn the_table_is_consistent() {
    for (i, o) in OPTIONS.iter().enumerate() {
        assert_eq!(
            options::index_of(o.name),
            Some(i),
            "{} listed twice",
            o.name
        );
        assert!(!o.doc.is_empty() && !o.doc.contains('\n'), "{}", o.name);
        if let Status::ReplacedBy(p) = o.status {
            let pd = options::find(p).unwrap_or_else(|| panic!("{p} missing"));
            let same = std::mem::discriminant(&pd.kind) == std::mem::discriminant(&o.kind);
            assert!(same, "{} and {p} differ in type", o.name);
        }
    }
    assert_eq!(OPTIONS.len(), 526);
}

#[test]
fn man_page_lists_every_option() {
    let man = include_str!("../../../man/imapd.conf.5");
    for o in OPTIONS {
        let entry = format!("\n.B {}\n", o.name.replace('-', "\\-"));
        assert!(
            man.contains(&entry),
            "{} missing from man/imapd.conf.5",
            o.name
        );
    }
}

proptest! {
    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
        let _ = parse_as(&text, "imap");
    }

    #[test]
    fn never_panics_on_conf_like_text(
        lines in proptest::collection::vec(
            "(imap_)?(admins|timeout|maxword|allowapop|serverinfo|httpmodules|tlscache_db|partition-x|[a-z_@-]{0,8})[:]? {0,2}[a-z0-9 #{}\\\\-]{0,12}",
            0..16)
    ) {
        let text = format!("{DIR}{}", lines.join("\n"));
        if let Ok(c) = parse_as(&text, "imap") {
            for (d, _) in c.options() {
                let _ = c.is_default(d.name);
            }
            let _ = c.overflow().count();
        }
    }
}
