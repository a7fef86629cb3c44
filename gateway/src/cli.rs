//! The `kopru` command line: `serve`, `chat`, `classify`, `eval` and `deadletters`. Every
//! command exits 0 on success and non-zero with a one-line error on stderr otherwise.

use crate::config::{Config, Source};
use crate::runtime::Runtime;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "kopru",
    version,
    about = "Köprü: a conversational bot gateway for Turkish businesses"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "KOPRU_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: webhooks, web chat, admin API and the workers.
    Serve {
        /// A TOML configuration file; without it the bundled demo runs.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Talk to a tenant's bot in the terminal, as a customer would (same engine,
    /// same store). Reads one message a line when standard input is not a terminal.
    Chat {
        /// The tenant id, e.g. demo-dental.
        #[arg(long)]
        tenant: String,
        /// A TOML configuration file; without it the bundled demo is used.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Continue an earlier terminal conversation with this id.
        #[arg(long)]
        session: Option<String>,
    },
    /// Print what the bot understands of one message as one JSON object: intent,
    /// confidence, entities, language, sentiment (the tenant's niche, time zone and
    /// confidence threshold apply; no store is opened).
    Classify(crate::classify::ClassifyArgs),
    /// Measure the bot: intent classification on a dataset, or conversation tests
    /// (see docs/eval.md).
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Webhook bodies that were verified but could not be parsed: list them, or
    /// re-drive them through the webhook code after a fix (see docs/channels.md).
    Deadletters {
        #[command(subcommand)]
        command: crate::deadletters::DeadLettersCommand,
    },
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Evaluate intent classification on a JSON Lines dataset: accuracy, per-intent
    /// precision/recall/F1, confusions, latency; optionally against a baseline.
    Intents(crate::eval_driver::IntentsArgs),
    /// Run multi-turn conversation tests (`*.yaml` in a folder) through the real
    /// pipeline, each on a fresh embedded store.
    Conversations(crate::eval_driver::ConversationsArgs),
}

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let quiet = matches!(
        cli.command,
        Command::Chat { .. }
            | Command::Eval { .. }
            | Command::Classify(_)
            | Command::Deadletters { .. }
    );
    init_tracing(cli.log_format, quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kopru: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kopru: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn init_tracing(format: LogFormat, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet {
        "warn"
    } else {
        "info,tower_http=warn,sqlx=warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => serve(config).await,
        Command::Chat {
            tenant,
            config,
            session,
        } => {
            let (config, source) = Config::load(config.as_deref(), std::env::vars())?;
            let rt = Runtime::build(config, source, false).await?;
            crate::chat::run(rt, &tenant, session).await
        }
        Command::Classify(args) => crate::classify::run(args),
        Command::Eval { command } => match command {
            EvalCommand::Intents(args) => crate::eval_driver::intents(args).await,
            EvalCommand::Conversations(args) => crate::eval_driver::conversations(args).await,
        },
        Command::Deadletters { command } => crate::deadletters::run(command).await,
    }
}

async fn serve(path: Option<PathBuf>) -> anyhow::Result<()> {
    let (config, source) = Config::load(path.as_deref(), std::env::vars())?;
    let listen = config.server.listen.clone();
    let rt = Runtime::build(config, source.clone(), true).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        store = rt.store.backend(),
        hot = rt.hot.backend(),
        tenants = rt.tenants.len(),
        "kopru serving"
    );
    if source == Source::Demo {
        println!("Köprü demo: http://{addr}/ (web chat for every demo tenant)");
        for (tenant, key) in &rt.demo_keys {
            println!("  admin API key for {tenant}: {key}");
        }
    }
    // Tests and scripts read the bound address (port 0 picks a free one) from this line.
    println!("kopru listening on http://{addr}");
    crate::server::serve(rt, listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
