using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Kv.Tests.Infrastructure;

/// <summary>Which server implementation a <see cref="ServerProcess"/> runs.</summary>
public enum ServerKind
{
    /// <summary>The real redis-server 7.0.15 (/usr/bin/redis-server), the specification.</summary>
    Redis,
    /// <summary>kv-server, the implementation under test.</summary>
    Kv,
}

/// <summary>Options for <see cref="ServerProcess.StartAsync(ServerKind, ServerStartOptions)"/>.</summary>
public sealed class ServerStartOptions
{
    /// <summary>Extra <c>--name value</c> arguments appended after the defaults (later ones win, as in redis).</summary>
    public IReadOnlyList<string> Args { get; init; } = [];

    /// <summary>Optional config file passed as the first argument.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>Working/data folder (<c>--dir</c>); a fresh temp folder (deleted on dispose) when null.</summary>
    public string? Dir { get; init; }

    /// <summary>Fixed port; a free loopback port is picked when null (retried if another process grabs it).</summary>
    public int? Port { get; init; }

    /// <summary>Wait until the server answers PING (anything but -LOADING). Default true.</summary>
    public bool WaitReady { get; init; } = true;

    /// <summary>How long to wait for readiness. Default 20 s.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Add the test defaults (<c>--bind 127.0.0.1 --save "" --appendonly no --daemonize no --logfile ""</c>).
    /// Default true; set false to test the plain command line.
    /// </summary>
    public bool Defaults { get; init; } = true;
}

/// <summary>
/// A redis-server or kv-server child process on a loopback port chosen at run time, in a temp folder, with its
/// stdout/stderr captured into <see cref="Log"/>. Dispose kills it (the whole process tree) and deletes the temp
/// folder it created (set env KV_TESTS_KEEP=1 to keep folders for debugging).
/// </summary>
/// <example><code>
/// await using var redis = await ServerProcess.StartAsync(ServerKind.Redis, "--requirepass", "pw");
/// using var c = await redis.ConnectAsync();
/// byte[] reply = await c.CommandAsync("PING");   // "-NOAUTH Authentication required.\r\n"
/// </code></example>
public sealed class ServerProcess : IAsyncDisposable, IDisposable
{
    private readonly StringBuilder _log = new();
    private readonly bool _ownsDir;
    private int _disposed;

    private ServerProcess(ServerKind kind, Process process, int port, string dir, bool ownsDir, IReadOnlyList<string> args)
    {
        Kind = kind;
        Process = process;
        Port = port;
        Dir = dir;
        _ownsDir = ownsDir;
        Arguments = args;
    }

    /// <summary>Which server this is.</summary>
    public ServerKind Kind { get; }

    /// <summary>The OS process.</summary>
    public Process Process { get; }

    /// <summary>The TCP port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>Its <c>--dir</c> (data folder).</summary>
    public string Dir { get; }

    /// <summary>The full argument list it was started with (without the executable).</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Loopback endpoint of the server.</summary>
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>Short display name: "redis:port" or "kv:port".</summary>
    public string Name => $"{(Kind == ServerKind.Redis ? "redis" : "kv")}:{Port}";

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>The last <paramref name="lines"/> lines of <see cref="Log"/>.</summary>
    public string LogTail(int lines = 30)
    {
        var all = Log.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>True once the process has exited.</summary>
    public bool HasExited
    {
        get { try { return Process.HasExited; } catch (InvalidOperationException) { return true; } }
    }

    /// <summary>Starts redis-server with the test defaults plus <paramref name="args"/>.</summary>
    public static Task<ServerProcess> StartRedisAsync(params string[] args) => StartAsync(ServerKind.Redis, args);

    /// <summary>Starts kv-server with the test defaults plus <paramref name="args"/>.</summary>
    public static Task<ServerProcess> StartKvAsync(params string[] args) => StartAsync(ServerKind.Kv, args);

    /// <summary>Starts a server with the test defaults plus <paramref name="args"/>.</summary>
    public static Task<ServerProcess> StartAsync(ServerKind kind, params string[] args)
        => StartAsync(kind, new ServerStartOptions { Args = args });

    /// <summary>
    /// Starts a server and (by default) waits until it answers PING. Throws <see cref="InvalidOperationException"/>
    /// with the captured log when it exits early or does not become ready in time.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(ServerKind kind, ServerStartOptions options)
    {
        Exception? last = null;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = options.Port ?? FreePort();
            bool ownsDir = options.Dir is null;
            var dir = options.Dir ?? Directory.CreateTempSubdirectory($"kvtest-{(kind == ServerKind.Redis ? "redis" : "kv")}-").FullName;
            var args = new List<string>();
            if (options.ConfigFile is not null) args.Add(options.ConfigFile);
            args.AddRange(["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (options.Defaults)
                args.AddRange(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""]);
            args.AddRange(["--dir", dir]);
            args.AddRange(options.Args);
            var sp = Launch(kind, args, port, dir, ownsDir);
            try
            {
                if (options.WaitReady) await sp.WaitReadyAsync(options.StartTimeout).ConfigureAwait(false);
                return sp;
            }
            catch (Exception e)
            {
                last = e;
                bool portClash = sp.Log.Contains("Address already in use", StringComparison.Ordinal)
                                 || sp.Log.Contains("Could not create server TCP listening socket", StringComparison.Ordinal);
                await sp.DisposeAsync().ConfigureAwait(false);
                if (!portClash || options.Port is not null) throw;
            }
        }
        throw new InvalidOperationException($"could not start {kind} after 5 attempts", last);
    }

    /// <summary>
    /// Runs the server executable with exactly <paramref name="args"/> (no defaults, no readiness wait) and returns
    /// (exit code, combined stdout+stderr). For command-line tests such as <c>--foo bar</c>; kills it after
    /// <paramref name="timeout"/> and throws <see cref="TimeoutException"/> if it did not exit.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(ServerKind kind, IEnumerable<string> args, TimeSpan timeout, string? workDir = null)
    {
        var psi = MakeStartInfo(kind, args, workDir ?? Path.GetTempPath());
        using var p = new Process { StartInfo = psi };
        var sb = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (sb) sb.Append(e.Data).Append('\n'); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (sb) sb.Append(e.Data).Append('\n'); };
        p.Start();
        p.StandardInput.Close();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{kind} {string.Join(' ', args)} did not exit within {timeout}: {sb}");
        }
        p.WaitForExit(); // drain the async readers
        lock (sb) return (p.ExitCode, sb.ToString());
    }

    private static ProcessStartInfo MakeStartInfo(ServerKind kind, IEnumerable<string> args, string workDir)
    {
        string exe = kind == ServerKind.Redis ? ServerPaths.RedisServer : ServerPaths.KvServer;
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workDir,
        };
        if (exe.EndsWith(".dll", StringComparison.Ordinal))
        {
            psi.FileName = "dotnet";
            psi.ArgumentList.Add(exe);
        }
        else
        {
            psi.FileName = exe;
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private static ServerProcess Launch(ServerKind kind, List<string> args, int port, string dir, bool ownsDir)
    {
        var p = new Process { StartInfo = MakeStartInfo(kind, args, dir), EnableRaisingEvents = true };
        var sp = new ServerProcess(kind, p, port, dir, ownsDir, args);
        p.OutputDataReceived += (_, e) => sp.Append(e.Data);
        p.ErrorDataReceived += (_, e) => sp.Append(e.Data);
        p.Start();
        p.StandardInput.Close();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return sp;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log) _log.Append(line).Append('\n');
    }

    /// <summary>Waits until the server answers PING with anything but -LOADING, or throws with the log.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (HasExited)
                throw new InvalidOperationException($"{Name} exited with code {SafeExitCode()} during start:\n{Log}");
            try
            {
                using var c = await RespClient.ConnectAsync(Port, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                var r = await c.CommandAsync("PING").ConfigureAwait(false);
                if (!RespFormat.StartsWith(r, "-LOADING")) return;
            }
            catch (Exception e) when (e is SocketException or IOException or TimeoutException or RespConnectionClosedException)
            {
            }
            await Task.Delay(30).ConfigureAwait(false);
        }
        throw new InvalidOperationException($"{Name} did not answer PING within {timeout}:\n{Log}");
    }

    private string SafeExitCode()
    {
        try { return Process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture); }
        catch (InvalidOperationException) { return "?"; }
    }

    /// <summary>Opens a raw RESP connection to this server.</summary>
    public Task<RespClient> ConnectAsync(TimeSpan? timeout = null) => RespClient.ConnectAsync(Port, timeout);

    /// <summary>Sends SIGTERM (graceful shutdown) without waiting.</summary>
    public void Terminate()
    {
        if (!HasExited) _ = SysKill(Process.Id, 15);
    }

    /// <summary>Waits for the process to exit; returns false on timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await Process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Exit code once exited, else null.</summary>
    public int? ExitCode => HasExited ? Process.ExitCode : null;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int sig);

    /// <summary>Picks a currently free loopback TCP port (bind to port 0 and release it).</summary>
    public static int FreePort()
    {
        using var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        l.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)l.LocalEndPoint!).Port;
    }

    /// <summary>Kills the process tree and deletes the temp folder it created.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            if (!HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
        Process.Dispose();
        if (_ownsDir && Environment.GetEnvironmentVariable("KV_TESTS_KEEP") != "1")
        {
            try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
