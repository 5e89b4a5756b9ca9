using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Adb.Protocol;

[assembly: CollectionBehavior(DisableTestParallelization = true)]
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Adb.Daemon.Tests.Infrastructure;

/// <summary>Result of one process run.</summary>
public sealed record RunResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"rc={ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Free loopback ports in the 5600+ range (never 5555-5585, which Debian's server scans).</summary>
public static class Ports
{
    private static int _next = 5600 + Environment.ProcessId % 50 * 20;
    private static readonly Lock Gate = new();

    public static int Next()
    {
        lock (Gate)
        {
            for (int i = 0; i < 2000; i++)
            {
                int p = _next++;
                if (_next > 7999) _next = 5600;
                try
                {
                    var l = new TcpListener(IPAddress.Loopback, p);
                    l.Start();
                    l.Stop();
                    var l2 = new TcpListener(IPAddress.Any, p);
                    l2.Start();
                    l2.Stop();
                    return p;
                }
                catch (SocketException) { }
            }
            throw new InvalidOperationException("no free port in 5600-7999");
        }
    }
}

/// <summary>
/// One isolated test world: a temp folder with HOME/TMPDIR for Debian's adb (ADB_EMU=0, ADB_USB=0, ADB_MDNS=0),
/// Debian's adb server on a private port, our adbd on another, a keys file and an audit log. Dispose stops both
/// processes (adb kill-server, then kill) and deletes the folder.
/// </summary>
public sealed class AdbTestEnv : IAsyncDisposable
{
    public string Root { get; }
    public string Home => Path.Combine(Root, "home");
    public string KeysFile => Path.Combine(Root, "adb_keys");
    public string AuditLog => Path.Combine(Root, "audit.log");
    public string DaemonLog => Path.Combine(Root, "adbd.log");
    public int ServerPort { get; }
    public int DaemonPort { get; private set; }
    public string Serial => $"127.0.0.1:{DaemonPort}";
    private Process? _adbd;
    private bool _serverStarted;

    public static string AdbdDll => Path.Combine(AppContext.BaseDirectory, "adbd.dll");

    public AdbTestEnv()
    {
        Root = Directory.CreateTempSubdirectory("adbd-test-").FullName;
        File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        Directory.CreateDirectory(Path.Combine(Home, ".android"));
        Directory.CreateDirectory(Path.Combine(Root, "tmp"));
        ServerPort = Ports.Next();
        DaemonPort = Ports.Next();
    }

    /// <summary>A second host world (own HOME, key and server) pointed at another env's adbd.</summary>
    public AdbTestEnv(int daemonPort) : this() => DaemonPort = daemonPort;

    /// <summary>Creates the host key with Debian's <c>adb keygen</c> and returns the adbkey.pub line.</summary>
    public string CreateHostKey()
    {
        string key = Path.Combine(Home, ".android", "adbkey");
        if (!File.Exists(key))
        {
            var r = Run("adb", ["keygen", key]);
            if (!File.Exists(key + ".pub")) throw new InvalidOperationException("adb keygen failed: " + r);
        }
        return File.ReadAllText(key + ".pub").Trim();
    }

    /// <summary>MD5 fingerprint of the host key, computed from adbkey.pub.</summary>
    public string HostFingerprint() => AndroidPublicKey.Fingerprint(AndroidPublicKey.ParseLine(CreateHostKey(), out _));

    /// <summary>Writes the keys file with the host key, optionally prefixed with capability options.</summary>
    public void AuthorizeHostKey(string? options = null)
    {
        string line = CreateHostKey();
        File.WriteAllText(KeysFile, (options is null ? "" : options + " ") + line + "\n");
    }

    public Dictionary<string, string> AdbEnvironment() => new()
    {
        ["HOME"] = Home,
        ["TMPDIR"] = Path.Combine(Root, "tmp"),
        ["ADB_EMU"] = "0",
        ["ADB_USB"] = "0",
        ["ADB_MDNS"] = "0",
        ["ANDROID_ADB_SERVER_PORT"] = ServerPort.ToString(),
        ["ADB_LOCAL_TRANSPORT_MAX_PORT"] = "5554",
    };

    /// <summary>Starts our adbd (dotnet adbd.dll) and waits until it listens.</summary>
    public async Task StartDaemonAsync(params string[] extraArgs)
    {
        if (!File.Exists(KeysFile)) File.WriteAllText(KeysFile, "");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])[AdbdDll, "--port", DaemonPort.ToString(), "--bind", "127.0.0.1", "--keys", KeysFile, "--audit-log", AuditLog, "-v", .. extraArgs])
            psi.ArgumentList.Add(a);
        var log = new StreamWriter(DaemonLog, append: true) { AutoFlush = true };
        _adbd = new Process { StartInfo = psi };
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _adbd.OutputDataReceived += (_, e) => { if (e.Data is null) return; lock (log) log.WriteLine(e.Data); if (e.Data.StartsWith("adbd listening on port")) listening.TrySetResult(); };
        _adbd.ErrorDataReceived += (_, e) => { if (e.Data is null) return; lock (log) log.WriteLine(e.Data); };
        _adbd.Start();
        _adbd.BeginOutputReadLine();
        _adbd.BeginErrorReadLine();
        var done = await Task.WhenAny(listening.Task, _adbd.WaitForExitAsync(), Task.Delay(20000));
        if (done != listening.Task) throw new InvalidOperationException("adbd did not start:\n" + DaemonLogText());
    }

    public string DaemonLogText()
    {
        try { using var fs = new FileStream(DaemonLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite); return new StreamReader(fs).ReadToEnd(); }
        catch (IOException) { return ""; }
    }

    public string AuditText()
    {
        try { using var fs = new FileStream(AuditLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite); return new StreamReader(fs).ReadToEnd(); }
        catch (IOException) { return ""; }
    }

    public void KillDaemon()
    {
        try { if (_adbd is { HasExited: false }) { _adbd.Kill(true); _adbd.WaitForExit(5000); } } catch (Exception) { }
    }

    /// <summary>Starts Debian's server (adb -P port start-server).</summary>
    public void StartServer()
    {
        var r = Adb("start-server");
        _serverStarted = true;
        if (r.ExitCode != 0) throw new InvalidOperationException("adb start-server failed: " + r);
    }

    /// <summary>Starts the server, connects to adbd and waits until the device is online.</summary>
    public async Task ConnectAsync()
    {
        if (!_serverStarted) StartServer();
        Adb("connect", Serial);
        await WaitForStateAsync("device");
    }

    /// <summary>Polls <c>adb -s serial get-state</c> until it prints <paramref name="state"/>.</summary>
    public async Task WaitForStateAsync(string state, int timeoutMs = 15000)
    {
        var sw = Stopwatch.StartNew();
        RunResult last = new(0, "", "");
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            last = Adb("-s", Serial, "get-state");
            if (last.Stdout.Trim() == state) return;
            // 29.0.6's get-state fails with "error: device unauthorized." for that state.
            if (state == "unauthorized" && last.Stderr.Contains("device unauthorized")) return;
            if (state == "device" && last.Stderr.Contains("not found")) Adb("connect", Serial);
            await Task.Delay(150);
        }
        throw new TimeoutException($"device never reached '{state}': {last}\n--- adbd log:\n{DaemonLogText()}");
    }

    public RunResult Adb(params string[] args) => Run("adb", ["-P", ServerPort.ToString(), .. args]);

    public RunResult AdbWithTimeout(int timeoutMs, params string[] args) => Run("adb", ["-P", ServerPort.ToString(), .. args], timeoutMs: timeoutMs);

    public RunResult Adbd(params string[] args) => Run("dotnet", [AdbdDll, .. args]);

    public RunResult Run(string file, string[] args, byte[]? stdin = null, int timeoutMs = 120000)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var kv in AdbEnvironment()) psi.Environment[kv.Key] = kv.Value;
        using var p = Process.Start(psi)!;
        var so = ReadAll(p.StandardOutput.BaseStream);
        var se = ReadAll(p.StandardError.BaseStream);
        if (stdin is not null) p.StandardInput.BaseStream.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeoutMs))
        {
            try { p.Kill(true); } catch (Exception) { }
            throw new TimeoutException($"{file} {string.Join(' ', args)} timed out");
        }
        return new RunResult(p.ExitCode, Encoding.UTF8.GetString(so.Result), Encoding.UTF8.GetString(se.Result));
    }

    private static Task<byte[]> ReadAll(Stream s) => Task.Run(() => { var ms = new MemoryStream(); s.CopyTo(ms); return ms.ToArray(); });

    public async ValueTask DisposeAsync()
    {
        if (_serverStarted)
        {
            try { Run("adb", ["-P", ServerPort.ToString(), "kill-server"], timeoutMs: 10000); } catch (Exception) { }
        }
        KillDaemon();
        await Task.Delay(50);
        try { Directory.Delete(Root, true); } catch (Exception) { }
    }
}
