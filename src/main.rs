//! The `sightline` command line: `serve` (the default), `check-config`, `version`, tools.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sightline::config::{self, Config};
use sightline::server::{self, BuildInfo, Overrides};

/// One binary for metrics, logs, dashboards and alerts: a drop-in for Prometheus, Loki,
/// Grafana and Alertmanager. With no arguments it serves the embedded default config
/// (loopback port 9470, data in ./data, scraping itself) with the web UI at /.
#[derive(Parser)]
#[command(name = "sightline", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
    /// Validate a config file; exits non-zero with every problem found.
    CheckConfig {
        /// The YAML config file to check.
        file: PathBuf,
    },
    /// Print version and build details.
    Version,
    /// Maintenance and test tools.
    #[command(hide = true)]
    Tool {
        #[command(subcommand)]
        tool: Tool,
    },
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// Config file (YAML). Without it the embedded default config is used.
    #[arg(long, short = 'c', env = "SIGHTLINE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:9470 (overrides server.listen).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data directory (overrides storage.path).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Log level or filter: error, warn, info, debug, trace, or e.g. "info,tower_http=debug".
    #[arg(long, default_value = "info", env = "SIGHTLINE_LOG_LEVEL")]
    log_level: String,
}

#[derive(Subcommand)]
enum Tool {
    /// Writes keys `crash/<n>` to the metadata store in DIR one by one, printing
    /// `ack <n>` after each is durable (used by the crash test).
    MetaWriteStream {
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::CheckConfig { file }) => check_config(&file),
        Some(Command::Version) => {
            print_version();
            Ok(())
        }
        Some(Command::Tool { tool }) => run_tool(tool),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("invalid --log-level {filter:?}"))?;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(sightline::logs::self_logs::layer())
        .init();
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level)?;
    let mut config = match &args.config {
        Some(path) => config::load_file(path)?,
        None => Config::embedded_default()?,
    };
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
    };
    overrides.apply(&mut config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sightline")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(server::run(config, args.config, overrides))?;
    // Do not wait for stuck blocking tasks beyond the shutdown budget already spent.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}

fn check_config(file: &Path) -> anyhow::Result<()> {
    config::load_file(file)?;
    println!("{}: config is valid", file.display());
    Ok(())
}

fn print_version() {
    let info = BuildInfo::CURRENT;
    println!(
        "sightline {} (revision {}, branch {}, built {}, {})",
        info.version, info.revision, info.branch, info.build_date, info.go_version
    );
}

fn run_tool(tool: Tool) -> anyhow::Result<()> {
    match tool {
        Tool::MetaWriteStream { dir, count } => {
            let store = sightline::meta::MetaStore::open(&dir)?;
            sightline::meta::run_migrations(&store, sightline::meta::MIGRATIONS)?;
            let stdout = std::io::stdout();
            for index in 0..count {
                let key = format!("crash/{index:010}");
                store.put(key.as_bytes(), &index.to_be_bytes())?;
                let mut out = stdout.lock();
                writeln!(out, "ack {index}")?;
                out.flush()?;
            }
            Ok(())
        }
    }
}
