using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Adb.Protocol;

namespace Adb.Cli.Tests;

/// <summary>Which adb client binary runs a command.</summary>
public enum ClientKind { Debian, Ours }

/// <summary>Which adb server a client talks to.</summary>
public enum ServerKind { Debian, Ours }

/// <summary>Result of one process run.</summary>
public sealed record RunResult(int Code, byte[] StdoutBytes, string Stderr)
{
    /// <summary>Stdout as UTF-8.</summary>
    public string Stdout => System.Text.Encoding.UTF8.GetString(StdoutBytes);
    /// <inheritdoc/>
    public override string ToString() => $"rc={Code} stdout=[{Stdout}] stderr=[{Stderr}]";
}

/// <summary>Process and port helpers.</summary>
public static class Proc
{
    private static int _nextPort = 5600 + Random.Shared.Next(0, 1500);

    /// <summary>A free loopback TCP port at or above 5600 (probed by binding), never in 5555-5585.</summary>
    public static int FreePort()
    {
        while (true)
        {
            int p = Interlocked.Increment(ref _nextPort);
            if (p > 9000) { Interlocked.Exchange(ref _nextPort, 5600); continue; }
            try
            {
                var l = new TcpListener(IPAddress.Loopback, p);
                l.Start();
                l.Stop();
                return p;
            }
            catch (SocketException) { }
        }
    }

    /// <summary>Waits until something accepts on 127.0.0.1:port.</summary>
    public static async Task WaitForPortAsync(int port, int timeoutMs = 20_000)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try { await s.ConnectAsync(IPAddress.Loopback, port); return; }
            catch (SocketException) { await Task.Delay(50); }
        }
        throw new TimeoutException($"nothing listening on port {port}");
    }

    /// <summary>Creates a start info with the isolated environment of <paramref name="env"/>.</summary>
    public static ProcessStartInfo Info(string file, IEnumerable<string> args, AdbEnvironment env)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = env.Root,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = env.Home;
        psi.Environment["TMPDIR"] = env.Tmp;
        psi.Environment["ADB_EMU"] = "0";
        psi.Environment["ADB_MDNS"] = "0";
        psi.Environment["ADB_USB"] = "0";
        psi.Environment["LOGNAME"] = "tester";
        psi.Environment["TERM"] = "xterm";
        psi.Environment.Remove("ANDROID_SERIAL");
        psi.Environment.Remove("ANDROID_ADB_SERVER_PORT");
        psi.Environment.Remove("ADB_VENDOR_KEYS");
        psi.Environment.Remove("ADB_TRACE");
        return psi;
    }

    /// <summary>Runs a process to completion (killing it after the timeout) and captures its output.</summary>
    public static async Task<RunResult> RunAsync(ProcessStartInfo psi, byte[]? stdin = null, int timeoutMs = 60_000)
    {
        using var p = Process.Start(psi)!;
        var outMs = new MemoryStream();
        var outTask = p.StandardOutput.BaseStream.CopyToAsync(outMs);
        var errTask = p.StandardError.ReadToEndAsync();
        try
        {
            if (stdin != null) await p.StandardInput.BaseStream.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        catch (IOException) { }
        using var cts = new CancellationTokenSource(timeoutMs);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            try { p.Kill(entireProcessTree: true); } catch { }
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} timed out");
        }
        await outTask;
        string err = await errTask;
        return new RunResult(p.ExitCode, outMs.ToArray(), err);
    }
}

/// <summary>
/// The shared test world: isolated HOME/TMPDIR with an adb key, our adbd (authorized for that key) on a port
/// 5600+, Debian's adb server and our adb server (both in nodaemon mode, owned by the fixture) each connected to
/// that adbd. Everything is stopped in <see cref="DisposeAsync"/>.
/// </summary>
public sealed class AdbEnvironment : IAsyncLifetime
{
    private readonly List<Process> _owned = [];

    /// <summary>Root temp folder.</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "adbhost-tests-" + Guid.NewGuid().ToString("N")[..8]);
    /// <summary>$HOME of every process.</summary>
    public string Home => Path.Combine(Root, "home");
    /// <summary>$TMPDIR of every process.</summary>
    public string Tmp => Path.Combine(Root, "tmp");
    /// <summary>Host-side scratch folder.</summary>
    public string HostDir => Path.Combine(Root, "host");
    /// <summary>"Device"-side folder (adbd serves this machine).</summary>
    public string DeviceDir => Path.Combine(Root, "device");
    /// <summary>adbd port.</summary>
    public int AdbdPort { get; private set; }
    /// <summary>Debian server port.</summary>
    public int DebianPort { get; private set; }
    /// <summary>Our server port.</summary>
    public int OursPort { get; private set; }
    /// <summary>Serial of the adbd transport: 127.0.0.1:port.</summary>
    public string Serial => $"127.0.0.1:{AdbdPort}";
    /// <summary>Folder holding adb.dll / adbd.dll of this build.</summary>
    public static string BinDir => AppContext.BaseDirectory;

    /// <summary>Start info for our adb (apphost when present, else dotnet adb.dll).</summary>
    public ProcessStartInfo OurAdb(IEnumerable<string> args) => Dotnet("adb", args);

    private ProcessStartInfo Dotnet(string name, IEnumerable<string> args)
    {
        string apphost = Path.Combine(BinDir, name);
        if (File.Exists(apphost)) return Proc.Info(apphost, args, this);
        return Proc.Info("dotnet", [Path.Combine(BinDir, name + ".dll"), .. args], this);
    }

    /// <summary>Runs an adb client against a server.</summary>
    public Task<RunResult> AdbAsync(ClientKind c, ServerKind s, params string[] args) => AdbInAsync(c, s, null, args);

    /// <summary>Runs an adb client against a server with stdin bytes.</summary>
    public Task<RunResult> AdbInAsync(ClientKind c, ServerKind s, byte[]? stdin, params string[] args)
    {
        int port = s == ServerKind.Debian ? DebianPort : OursPort;
        string[] all = ["-P", port.ToString(), .. args];
        var psi = c == ClientKind.Debian ? Proc.Info("/usr/bin/adb", all, this) : OurAdb(all);
        return Proc.RunAsync(psi, stdin);
    }

    /// <summary>Runs a client against any server port, with extra environment variables.</summary>
    public Task<RunResult> AdbPortAsync(ClientKind c, int port, IDictionary<string, string>? extraEnv, params string[] args)
    {
        string[] all = ["-P", port.ToString(), .. args];
        var psi = c == ClientKind.Debian ? Proc.Info("/usr/bin/adb", all, this) : OurAdb(all);
        if (extraEnv != null) foreach (var kv in extraEnv) psi.Environment[kv.Key] = kv.Value;
        return Proc.RunAsync(psi);
    }

    /// <summary>Starts a server in the foreground (nodaemon) on a new port, owned by the fixture.</summary>
    public async Task<(Process Process, int Port)> StartServerAsync(ServerKind kind, IDictionary<string, string>? extraEnv = null)
    {
        int port = Proc.FreePort();
        var psi = kind == ServerKind.Debian
            ? Proc.Info("/usr/bin/adb", ["-L", $"tcp:{port}", "server", "nodaemon"], this)
            : OurAdb(["-P", port.ToString(), "server", "nodaemon"]);
        if (extraEnv != null) foreach (var kv in extraEnv) psi.Environment[kv.Key] = kv.Value;
        var p = Start(psi);
        await Proc.WaitForPortAsync(port);
        return (p, port);
    }

    /// <summary>Runs our adbd's key management CLI (<c>adbd keys ...</c>).</summary>
    public Task<RunResult> AdbdKeysAsync(params string[] args) => Proc.RunAsync(Dotnet("adbd", ["keys", .. args]));

    /// <summary>Kills a fixture-owned process now.</summary>
    public static void Kill(Process p)
    {
        try { if (!p.HasExited) p.Kill(entireProcessTree: true); p.WaitForExit(5000); } catch { }
    }

    /// <summary>Starts a process owned by the fixture (killed at the end).</summary>
    public Process Start(ProcessStartInfo psi)
    {
        var p = Process.Start(psi)!;
        p.StandardInput.Close();
        _ = p.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        _ = p.StandardError.BaseStream.CopyToAsync(Stream.Null);
        lock (_owned) _owned.Add(p);
        return p;
    }

    /// <summary>Starts our adbd on a new port authorized for the test key; returns its process and port.</summary>
    public async Task<(Process Process, int Port)> StartAdbdAsync(string? keysFile = null, int port = 0)
    {
        if (port == 0) port = Proc.FreePort();
        keysFile ??= Path.Combine(Root, "adb_keys");
        var p = Start(Dotnet("adbd", ["--port", port.ToString(), "--keys", keysFile, "--audit-log", Path.Combine(Root, $"audit-{port}.log"), "--user", "root"]));
        await Proc.WaitForPortAsync(port);
        return (p, port);
    }

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        foreach (string d in (string[])[Home, Tmp, HostDir, DeviceDir]) Directory.CreateDirectory(d);
        using (var key = AdbKey.LoadOrCreate(Path.Combine(Home, ".android", "adbkey"), "tester@adbhost"))
            File.WriteAllText(Path.Combine(Root, "adb_keys"), key.PublicKeyLine("tester@adbhost") + "\n");

        (_, AdbdPort) = await StartAdbdAsync();

        DebianPort = Proc.FreePort();
        Start(Proc.Info("/usr/bin/adb", ["-L", $"tcp:{DebianPort}", "server", "nodaemon"], this));
        OursPort = Proc.FreePort();
        Start(OurAdb(["-P", OursPort.ToString(), "server", "nodaemon"]));
        await Proc.WaitForPortAsync(DebianPort);
        await Proc.WaitForPortAsync(OursPort);

        foreach (var s in (ServerKind[])[ServerKind.Debian, ServerKind.Ours])
        {
            var r = await AdbAsync(ClientKind.Debian, s, "connect", Serial);
            if (!r.Stdout.Contains("connected to")) throw new InvalidOperationException($"connect via {s} server failed: {r}");
            var w = await Proc.RunAsync(Proc.Info("/usr/bin/adb", ["-P", (s == ServerKind.Debian ? DebianPort : OursPort).ToString(), "-s", Serial, "wait-for-device"], this), timeoutMs: 20_000);
            if (w.Code != 0) throw new InvalidOperationException($"wait-for-device via {s} failed: {w}");
        }
    }

    /// <inheritdoc/>
    public Task DisposeAsync()
    {
        lock (_owned)
        {
            foreach (var p in _owned)
            {
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch { }
                try { p.WaitForExit(5000); } catch { }
                p.Dispose();
            }
            _owned.Clear();
        }
        try { Directory.Delete(Root, recursive: true); } catch { }
        return Task.CompletedTask;
    }
}

/// <summary>Collection sharing one <see cref="AdbEnvironment"/> (tests run one after the other).</summary>
[CollectionDefinition("adb")]
public sealed class AdbCollection : ICollectionFixture<AdbEnvironment>;
