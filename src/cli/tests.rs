//! The command line as a user types it: `serve`'s flags with or without the subcommand, and
//! what each subcommand refuses.

use super::*;

fn parsed(line: &str) -> Result<Cli, clap::Error> {
    Cli::from_args(line.split_whitespace())
}

fn serving(line: &str) -> ServeArgs {
    match parsed(line)
        .unwrap_or_else(|error| panic!("{line}: {error}"))
        .command
    {
        Some(Command::Serve(serve)) => serve,
        other => panic!("{line}: not serve but {other:?}"),
    }
}

#[test]
fn serve_flags_work_with_or_without_the_subcommand() {
    let bind = Some("0.0.0.0:3000".parse().unwrap());
    assert_eq!(serving("devicebridge").bind, None);
    assert_eq!(serving("devicebridge --bind 0.0.0.0:3000").bind, bind);
    assert_eq!(serving("devicebridge serve --bind 0.0.0.0:3000").bind, bind);
    // Given on both sides of `serve`, they add up; after it, they win.
    let both =
        serving("devicebridge --data-dir before --bind 127.0.0.1:1 serve --bind 0.0.0.0:3000");
    assert_eq!(both.bind, bind);
    assert_eq!(both.data_dir, Some(PathBuf::from("before")));
}

#[test]
fn serve_flags_before_a_client_subcommand_and_url_for_serve_are_refused() {
    for line in [
        "devicebridge --bind 127.0.0.1:0 devices list",
        "devicebridge --data-dir data qr demo",
        "devicebridge --url http://127.0.0.1:9",
        "devicebridge serve --url http://127.0.0.1:9",
    ] {
        let error = parsed(line).expect_err(line);
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict, "{line}: {error}");
    }
    assert!(parsed("devicebridge --url http://127.0.0.1:9 devices list").is_ok());
}

#[test]
fn token_and_qr_print_the_bare_value_with_raw() {
    match parsed("devicebridge token app --device demo --raw")
        .unwrap()
        .command
    {
        Some(Command::Token { raw, .. }) => assert!(raw),
        other => panic!("{other:?}"),
    }
    match parsed("devicebridge qr demo --raw").unwrap().command {
        Some(Command::Qr { device, raw }) => assert!(raw && device == "demo"),
        other => panic!("{other:?}"),
    }
}
