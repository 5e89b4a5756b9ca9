using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kv.Server;
using Kv.Server.Host;
using Microsoft.Extensions.Logging;

// kv-server [config-file] [--name value ...]: the same command line as redis-server (server.c main).

// Run socket continuations on the epoll thread instead of hopping to the thread pool: each request then costs no
// thread switch, like redis's event loop (measured +15-30% requests/s with redis-benchmark -c 50 at -P 1 and -P 16,
// docs/BENCHMARKS.md). Must be set before the first socket is created; an explicit setting wins.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
// One epoll thread, as redis's single event loop: commands are serialized by the execution lock anyway, and a second
// socket thread only added lock hand-offs and cross-CPU wake-ups (measured 20-30% less CPU per request with
// redis-benchmark -c 50, docs/BENCHMARKS.md). Snapshots, RDB loading and the cron keep their own threads.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "1");
if (args.Length > 0 && (args[0] is "-v" or "--version"))
{
    Console.WriteLine($"Redis server v={Kv.Commands.KvVersion.RedisVersion} sha=00000000:0 malloc=dotnet bits=64 build=kv-server");
    return 0;
}
if (args.Length > 0 && (args[0] is "-h" or "--help"))
{
    Console.WriteLine("Usage: kv-server [/path/to/redis.conf] [options] [-]");
    Console.WriteLine("       kv-server - (read config from stdin)");
    Console.WriteLine("       kv-server -v or --version");
    Console.WriteLine("       kv-server -h or --help");
    Console.WriteLine();
    Console.WriteLine("Examples:");
    Console.WriteLine("       kv-server (run the server with default config: port 6379, data in the current folder)");
    Console.WriteLine("       kv-server /etc/redis/6379.conf");
    Console.WriteLine("       kv-server --port 7777");
    Console.WriteLine("       kv-server --port 7777 --replicaof 127.0.0.1 8888");
    Console.WriteLine("       kv-server /etc/myredis.conf --loglevel verbose");
    return 1; // as redis-server's usage()

}

var config = new KvConfig();
string? file = null;
int first = 0;
if (args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal))
{
    file = args[0];
    first = 1;
}
try
{
    config.Load(file, args[first..]);
}
catch (ConfigException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

var logProvider = new RedisLogProvider(config.Get("logfile")) { MinLevel = RedisLogProvider.FromRedisLevel(config.Get("loglevel")) };
using var loggerFactory = LoggerFactory.Create(b =>
{
    b.ClearProviders();
    b.SetMinimumLevel(LogLevel.Trace);
    b.AddProvider(logProvider);
});
config.Find("loglevel")!.OnChange = p => logProvider.MinLevel = RedisLogProvider.FromRedisLevel(p.Value);
var log = loggerFactory.CreateLogger("kv");
log.LogInformation("oO0OoO0OoO0Oo kv-server (Redis {Version} compatible) is starting", Kv.Commands.KvVersion.RedisVersion);
log.LogInformation("Redis version={Version}, bits=64, pid={Pid}, just started", Kv.Commands.KvVersion.RedisVersion, Environment.ProcessId);
if (file is null) log.LogWarning("Warning: no config file specified, using the default config. In order to specify a config file use kv-server /path/to/redis.conf");
else log.LogInformation("Configuration loaded");

var dir = config.Get("dir");
try
{
    Directory.SetCurrentDirectory(dir);
}
catch (Exception e)
{
    log.LogWarning("Can't chdir to '{Dir}': {Error}", dir, e.Message);
    return 1;
}

await using var server = new KvServer(config, loggerFactory);
logProvider.Role = () => server.IsReplica ? 'S' : 'M';
try
{
    KvHost.Configure(server);
}
catch (Exception e)
{
    log.LogWarning("Fatal error loading the DB: {Error}. Exiting.", e.Message);
    return 1;
}
try
{
    server.Start();
}
catch (SocketException e)
{
    // redis: "Could not create server TCP listening socket <addr>:<port>: bind: <error>", then the abort line.
    var addr = config.Get("bind").Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.TrimStart('-') ?? "*";
    log.LogWarning("Warning: Could not create server TCP listening socket {Addr}:{Port}: bind: {Error}", addr, config.GetLong("port"), e.Message);
    log.LogWarning("Failed listening on port {Port} (TCP), aborting.", config.GetLong("port"));
    return 1;
}
log.LogInformation("Running mode=standalone, port={Port}.", server.Port);
// pidfile (server.c createPidFile): the pid and a newline, removed again at shutdown; a failure is only logged.
var pidfile = config.Get("pidfile");
if (pidfile.Length > 0)
{
    try { File.WriteAllText(pidfile, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n"); }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log.LogWarning("Failed to write PID file: {Error}", e.Message); pidfile = ""; }
}
log.LogInformation("Ready to accept connections");

using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; server.RequestShutdown("SIGTERM"); });
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; server.RequestShutdown("SIGINT"); });
await server.ShutdownRequested.Task;
if (pidfile.Length > 0)
{
    log.LogInformation("Removing the pid file.");
    try { File.Delete(pidfile); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
}
log.LogWarning("Redis is now ready to exit, bye bye...");
return 0;
