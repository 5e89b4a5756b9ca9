using System.CommandLine;
using System.Runtime.InteropServices;
using Adb.Daemon;
using Microsoft.Extensions.Logging;

// adbd: command line (System.CommandLine). `adbd [--port N] [--keys FILE] [--audit-log FILE] [--allow-root] [--user NAME]`
// serves; `adbd keys list|approve|revoke|deny` manages the keys file.

var port = new Option<int>("--port", "-p") { Description = "TCP port to listen on (0 = any free port, printed on start)", DefaultValueFactory = _ => 5555 };
var bind = new Option<string>("--bind") { Description = "Address to listen on", DefaultValueFactory = _ => "0.0.0.0" };
var keys = new Option<string>("--keys") { Description = "Keys file: adb_keys lines, optionally prefixed by capabilities (shell,sync,sync-read=PATH,forward,reverse,root)", DefaultValueFactory = _ => "/etc/adbd/adb_keys", Recursive = true };
var audit = new Option<string?>("--audit-log") { Description = "Append one line per OPEN (time, key fingerprint, service, result) to this file" };
var allowRoot = new Option<bool>("--allow-root") { Description = "Allow root:/unroot: for keys holding the 'root' capability" };
var user = new Option<string?>("--user") { Description = "User to serve as (default: nobody when started as root, else the current user)" };
var model = new Option<string>("--model") { Description = "ro.product.model in the banner", DefaultValueFactory = _ => "Linux_adbd" };
var verbose = new Option<bool>("--verbose", "-v") { Description = "Debug logging" };

var rootCommand = new RootCommand("adbd: Android Debug Bridge daemon serving this Linux machine over TCP (compatible with adb 29.0.6)")
{
    port, bind, keys, audit, allowRoot, user, model, verbose,
};
rootCommand.SetAction(async (parse, ct) =>
{
    var options = new DaemonOptions
    {
        Port = parse.GetValue(port),
        Bind = parse.GetValue(bind)!,
        KeysFile = parse.GetValue(keys)!,
        AuditLog = parse.GetValue(audit),
        AllowRoot = parse.GetValue(allowRoot),
        User = parse.GetValue(user),
        Model = parse.GetValue(model)!,
    };
    using var loggers = LoggerFactory.Create(b => b
        .SetMinimumLevel(parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information)
        .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; })
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
    AdbDaemon daemon;
    try { daemon = new AdbDaemon(options, loggers); }
    catch (ArgumentException ex) { Console.Error.WriteLine("adbd: " + ex.Message); return 2; }
    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"adbd: cannot open audit log '{options.AuditLog}': {ex.Message}");
        return 2;
    }
    try { await daemon.StartAsync(); }
    catch (System.Net.Sockets.SocketException ex) { Console.Error.WriteLine($"adbd: cannot listen on port {options.Port}: {ex.Message}"); return 1; }
    Console.Out.WriteLine($"adbd listening on port {daemon.Port}");
    Console.Out.Flush();
    using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
    await daemon.WaitAsync(stop.Token);
    await daemon.DisposeAsync();
    return 0;
});

var keysCommand = new Command("keys", "Manage authorized and pending keys (shows MD5 fingerprints as adb does)");
var list = new Command("list", "List authorized keys with capabilities, and pending keys");
list.SetAction(parse =>
{
    var store = new KeyStore(parse.GetValue(keys)!);
    var errors = new List<string>();
    var authorized = store.LoadAuthorized(errors);
    Console.WriteLine($"authorized ({store.KeysPath}):");
    foreach (var k in authorized) Console.WriteLine($"  {k.Fingerprint}  {k.Comment}  [{k.Capabilities}]");
    Console.WriteLine($"pending ({store.PendingPath}):");
    foreach (var k in store.LoadPending()) Console.WriteLine($"  {k.Fingerprint}  {k.Comment}");
    foreach (string e in errors) Console.Error.WriteLine("warning: " + e);
    return 0;
});
var fingerprint = new Argument<string>("fingerprint") { Description = "MD5 fingerprint (AA:BB:...) or a unique prefix" };
var grant = new Option<string?>("--grant") { Description = "Capabilities to grant, e.g. \"sync-read=/var/log/app\" (default: shell,sync,forward,reverse)" };
var approve = new Command("approve", "Authorize a pending key") { fingerprint, grant };
approve.SetAction(parse =>
{
    var store = new KeyStore(parse.GetValue(keys)!);
    try
    {
        string? g = parse.GetValue(grant);
        var k = store.Approve(parse.GetValue(fingerprint)!, g is null ? null : Capabilities.Parse(g));
        Console.WriteLine($"approved {k.Fingerprint} {k.Comment} [{k.Capabilities}]");
        return 0;
    }
    catch (Exception ex) when (ex is KeyNotFoundException or FormatException or IOException) { Console.Error.WriteLine("adbd: " + ex.Message); return 1; }
});
var revoke = new Command("revoke", "Remove an authorized key (its connections are closed)") { fingerprint };
revoke.SetAction(parse =>
{
    var store = new KeyStore(parse.GetValue(keys)!);
    try { var k = store.Revoke(parse.GetValue(fingerprint)!); Console.WriteLine($"revoked {k.Fingerprint} {k.Comment}"); return 0; }
    catch (Exception ex) when (ex is KeyNotFoundException or IOException) { Console.Error.WriteLine("adbd: " + ex.Message); return 1; }
});
var deny = new Command("deny", "Drop a pending key without authorizing it (its connections stay unauthorized)") { fingerprint };
deny.SetAction(parse =>
{
    var store = new KeyStore(parse.GetValue(keys)!);
    try { var k = store.Deny(parse.GetValue(fingerprint)!); Console.WriteLine($"denied {k.Fingerprint} {k.Comment}"); return 0; }
    catch (Exception ex) when (ex is KeyNotFoundException or IOException) { Console.Error.WriteLine("adbd: " + ex.Message); return 1; }
});
keysCommand.Subcommands.Add(list);
keysCommand.Subcommands.Add(approve);
keysCommand.Subcommands.Add(revoke);
keysCommand.Subcommands.Add(deny);
rootCommand.Subcommands.Add(keysCommand);

return await rootCommand.Parse(args).InvokeAsync();
