//! The command line: `serve` runs the daemon; the other subcommands drive a running daemon
//! over its REST API, so anything the CLI does, an integration can do too; `migrate` copies
//! the database into PostgreSQL.
//!
//! Here: the arguments. The REST client is in `client`, what to do about its refusals in
//! `remedy`, the copy in `migrate`.

mod client;
pub mod migrate;
mod remedy;

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::Overrides;
pub use client::ClientError;
pub use remedy::Refusal;

#[derive(Debug, Parser)]
#[command(
    name = "devicebridge",
    version,
    about = "Multi-device messaging bridge"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve`'s flags, taken without the subcommand too: `devicebridge --bind ADDR` is
    /// `devicebridge serve --bind ADDR`.
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

impl Cli {
    /// The command line of this process. `--url` names the daemon a client subcommand talks
    /// to: given to `serve` (the default subcommand), it would be silently ignored, so it is
    /// refused; so are `serve`'s flags before another subcommand.
    pub fn from_process() -> Cli {
        Cli::from_args(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// [`Cli::from_process`] for any command line (the program's name first).
    pub fn from_args(
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
    ) -> Result<Cli, clap::Error> {
        let matches = Cli::command().try_get_matches_from(args)?;
        let serving = matches.subcommand_name().is_none_or(|name| name == "serve");
        let given = |matches: &clap::ArgMatches, id: &str| {
            matches.value_source(id) == Some(ValueSource::CommandLine)
        };
        let url_given = given(
            matches.subcommand_matches("serve").unwrap_or(&matches),
            "url",
        );
        if serving && url_given {
            return Err(Cli::command().error(
                ErrorKind::ArgumentConflict,
                "`--url` is for the client subcommands; `serve` listens on `--bind` \
                 (or `server.bind`)",
            ));
        }
        let serve_flag = SERVE_FLAGS.iter().find(|id| given(&matches, id));
        if let (false, Some(flag)) = (serving, serve_flag) {
            return Err(Cli::command().error(
                ErrorKind::ArgumentConflict,
                format!(
                    "`--{}` is for `serve`, not a client subcommand",
                    flag.replace('_', "-")
                ),
            ));
        }
        let mut cli = Cli::from_arg_matches(&matches)?;
        // `serve`'s flags end up with `serve`, the command when none is given.
        let before = std::mem::take(&mut cli.serve);
        match &mut cli.command {
            None => cli.command = Some(Command::Serve(before)),
            Some(Command::Serve(serve)) => serve.fill_from(before),
            Some(_) => {}
        }
        Ok(cli)
    }
}

/// The ids of [`ServeArgs`]' flags.
const SERVE_FLAGS: [&str; 4] = ["config", "bind", "data_dir", "devices_dir"];

/// Runs a client subcommand against the daemon. A refusal says what to run to fix it.
pub async fn run_client(command: Command, args: &ClientArgs) -> Result<(), Refusal> {
    let client = client::connect(args).map_err(|error| Refusal { error, fix: None })?;
    match client::execute(&client, &command).await {
        Ok(()) => Ok(()),
        Err(error) => Err(Refusal {
            fix: remedy::fix(&client, &command, &error).await,
            error,
        }),
    }
}

/// Where the client subcommands find the daemon.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The daemon's base URL.
    #[arg(
        long,
        global = true,
        env = "DEVICEBRIDGE_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub url: String,
    /// An API key; defaults to the first-run admin key in `data/admin-api-key`. Given to
    /// `serve`, it adds one admin key, as `DEVICEBRIDGE_API_KEY` does.
    #[arg(
        long,
        global = true,
        env = "DEVICEBRIDGE_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Serve(ServeArgs),
    /// Manage devices.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Show a device's current QR code in the terminal, with the link it encodes under it.
    Qr {
        device: String,
        /// Print the link alone, for `$(…)` in a shell.
        #[arg(long)]
        raw: bool,
    },
    /// Act as the phone: scan a simulator QR code (its text or code) and link its device;
    /// with `--phone`, type a code the device gave for that number instead.
    Pair {
        qr: String,
        /// The number the code was given for (`POST /api/v1/devices/{id}/pairing-code`).
        #[arg(long)]
        phone: Option<String>,
    },
    /// Send a message to a chat of a device: a text, a file with its caption, or both;
    /// prints the accepted message.
    Send {
        device: String,
        /// The chat id, e.g. `15550000002@c.us`.
        chat: String,
        /// The text (a file's caption).
        #[arg(default_value = "")]
        text: String,
        /// A file to send: uploaded to the device first.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The file's MIME type; by default guessed from its extension.
        #[arg(long, requires = "file")]
        mime: Option<String>,
    },
    /// Copy this daemon's SQLite database into an empty PostgreSQL database, to move the
    /// daemon to `storage.url = "postgres://…"`. Stop the daemon first.
    Migrate(MigrateArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Issue an access token.
    Token {
        subject: String,
        /// Device ids the token may see (repeatable), or `*`.
        #[arg(long = "device", required = true)]
        devices: Vec<String>,
        /// Scopes (repeatable): read, send, control, admin.
        #[arg(long = "scope", default_value = "read")]
        scopes: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// The protocol profile the token's connections speak (see `GET /api/v1/profiles`).
        #[arg(long)]
        profile: Option<String>,
        /// Print the token alone, for `$(…)` in a shell.
        #[arg(long)]
        raw: bool,
    },
}

impl Default for Command {
    fn default() -> Self {
        Command::Serve(ServeArgs::default())
    }
}

#[derive(Debug, Args, Default, PartialEq)]
pub struct ServeArgs {
    /// A configuration file layered over the defaults and `config/local.toml`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Listen address (port 0 picks a free port).
    #[arg(long)]
    pub bind: Option<std::net::SocketAddr>,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long)]
    pub devices_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// Takes the flags given before `serve` that were not given after it.
    fn fill_from(&mut self, before: ServeArgs) {
        self.config = self.config.take().or(before.config);
        self.bind = self.bind.or(before.bind);
        self.data_dir = self.data_dir.take().or(before.data_dir);
        self.devices_dir = self.devices_dir.take().or(before.devices_dir);
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            bind: self.bind,
            data_dir: self.data_dir.clone(),
            devices_dir: self.devices_dir.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database to copy into: `postgres://user:password@host:port/database`.
    #[arg(long)]
    pub to: String,
    /// Where the SQLite database is, as `serve` finds it.
    #[command(flatten)]
    pub from: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    List,
    Show {
        id: String,
    },
    /// Create a simulator device.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// Do not start it now or with the daemon.
        #[arg(long)]
        no_autostart: bool,
    },
    Remove {
        id: String,
    },
    Start {
        id: String,
    },
    Stop {
        id: String,
    },
    Logout {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "device", default_value = "*")]
        devices: Vec<String>,
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    List,
    Revoke {
        id: String,
    },
}

#[cfg(test)]
mod tests;
