using System.Buffers;
using System.Diagnostics;
using System.Text;
using Adb.Daemon.Native;
using Adb.Protocol;
using Microsoft.Win32.SafeHandles;
using Microsoft.Extensions.Logging;

namespace Adb.Daemon.Services;

/// <summary>Parsed <c>shell[,arg...]:command</c> / <c>exec:command</c> request (AOSP <c>daemon/services.cpp</c>).</summary>
/// <param name="Command">Command line for <c>/bin/sh -c</c>; empty = interactive login shell.</param>
/// <param name="Pty">Run on a pseudo-terminal (default when the command is empty).</param>
/// <param name="V2">Use the shell v2 packet protocol.</param>
/// <param name="Term">TERM value (default "dumb").</param>
/// <param name="MergeStderr">Merge stderr into stdout (raw shell: and exec:).</param>
internal sealed record ShellRequest(string Command, bool Pty, bool V2, string Term, bool MergeStderr)
{
    /// <summary>Parses a <c>shell</c> service string; null when it is not one.</summary>
    public static ShellRequest? Parse(string service)
    {
        if (service.StartsWith("exec:", StringComparison.Ordinal))
            return new ShellRequest(service[5..], false, false, "dumb", true);
        if (!service.StartsWith("shell", StringComparison.Ordinal)) return null;
        string rest = service[5..];
        if (rest.Length == 0 || (rest[0] != ':' && rest[0] != ',')) return null;
        int colon = rest.IndexOf(':');
        string args = colon < 0 ? rest : rest[..colon];
        string command = colon < 0 ? "" : rest[(colon + 1)..];
        bool v2 = false, raw = false, pty = false;
        string term = "dumb";
        foreach (string a in args.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (a == "v2") v2 = true;
            else if (a == "raw") raw = true;
            else if (a == "pty") pty = true;
            else if (a.StartsWith("TERM=", StringComparison.Ordinal)) term = a[5..];
        }
        bool usePty = pty || (!raw && command.Length == 0);
        return new ShellRequest(command, usePty, v2, term, MergeStderr: !v2);
    }
}

/// <summary>
/// <c>shell:</c>, <c>shell,v2,...:</c> and <c>exec:</c>. The command runs as <c>/bin/sh -c COMMAND</c> (or a login
/// <c>/bin/sh -l</c> on a PTY when empty) as the connection's identity (through <c>setpriv</c> when adbd runs as root).
/// PTYs come from <c>posix_openpt</c>; the child gets the slave as controlling terminal via <c>setsid -c</c>, which
/// execs in place, so the exit status is the shell's own. v2 sends stdout/stderr/exit packets; without v2 the output
/// is the raw byte stream and no exit status is reported.
/// </summary>
internal sealed class ShellService
{
    private readonly ShellRequest _req;
    private readonly Identity _identity;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    public ShellService(ShellRequest req, Identity identity, ILogger log)
    {
        _req = req;
        _identity = identity;
        _log = log;
    }

    private ProcessStartInfo StartInfo(string[] prefix)
    {
        var psi = new ProcessStartInfo { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        var args = new List<string>(prefix);
        args.AddRange(_identity.SetprivPrefix());
        args.Add("/bin/sh");
        if (_req.Command.Length == 0) args.Add("-l");
        else
        {
            args.Add("-c");
            args.Add(_req.MergeStderr && !_req.Pty ? "exec 2>&1\n" + _req.Command : _req.Command);
        }
        psi.FileName = args[0];
        foreach (string a in args.Skip(1)) psi.ArgumentList.Add(a);
        psi.Environment.Clear();
        psi.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        psi.Environment["HOME"] = Directory.Exists(_identity.Home) ? _identity.Home : "/";
        psi.Environment["USER"] = _identity.Name;
        psi.Environment["LOGNAME"] = _identity.Name;
        psi.Environment["SHELL"] = "/bin/sh";
        psi.Environment["HOSTNAME"] = Environment.MachineName;
        psi.Environment["TMPDIR"] = "/tmp";
        psi.Environment["TERM"] = _req.Term;
        if (Environment.GetEnvironmentVariable("LANG") is { } lang) psi.Environment["LANG"] = lang;
        return psi;
    }

    public async Task RunAsync(AdbSocket socket)
    {
        if (_req.Pty) await RunPtyAsync(socket).ConfigureAwait(false);
        else await RunPipesAsync(socket).ConfigureAwait(false);
    }

    private async Task SendAsync(AdbSocket socket, ShellPacketId id, ReadOnlyMemory<byte> data)
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_req.V2)
            {
                byte[] h = new byte[ShellProtocol.HeaderSize];
                ShellProtocol.WriteHeader(h, id, (uint)data.Length);
                await socket.WriteAsync(h).ConfigureAwait(false);
            }
            if (data.Length > 0) await socket.WriteAsync(data).ConfigureAwait(false);
        }
        finally { _sendLock.Release(); }
    }

    private async Task PumpOutputAsync(Stream source, AdbSocket socket, ShellPacketId id)
    {
        byte[] buf = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (true)
            {
                int n;
                try { n = await source.ReadAsync(buf).ConfigureAwait(false); }
                catch (IOException) { break; } // EIO on a PTY master once the slave is closed
                if (n == 0) break;
                await SendAsync(socket, id, buf.AsMemory(0, n)).ConfigureAwait(false);
            }
        }
        catch (IOException) { /* stream closed by the host */ }
        finally { ArrayPool<byte>.Shared.Return(buf); }
    }

    /// <summary>Reads host input: raw bytes, or v2 packets (stdin, close-stdin, window size).</summary>
    private async Task PumpInputAsync(AdbSocket socket, Stream stdin, Action closeStdin, Action<int, int, int, int>? resize)
    {
        byte[] buf = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            if (!_req.V2)
            {
                while (true)
                {
                    int n = await socket.ReadAsync(buf).ConfigureAwait(false);
                    if (n == 0) break;
                    await stdin.WriteAsync(buf.AsMemory(0, n)).ConfigureAwait(false);
                    await stdin.FlushAsync().ConfigureAwait(false);
                }
                return;
            }
            byte[] header = new byte[ShellProtocol.HeaderSize];
            while (true)
            {
                try { await socket.ReadExactlyAsync(header).ConfigureAwait(false); }
                catch (EndOfStreamException) { break; }
                var (id, len) = ShellProtocol.ReadHeader(header);
                byte[] data = len <= buf.Length ? buf : new byte[len];
                await socket.ReadExactlyAsync(data.AsMemory(0, (int)len)).ConfigureAwait(false);
                switch (id)
                {
                    case ShellPacketId.Stdin:
                        await stdin.WriteAsync(data.AsMemory(0, (int)len)).ConfigureAwait(false);
                        await stdin.FlushAsync().ConfigureAwait(false);
                        break;
                    case ShellPacketId.CloseStdin:
                        closeStdin();
                        break;
                    case ShellPacketId.WindowSizeChange:
                        if (resize is not null && ShellProtocol.TryParseWindowSize(data.AsSpan(0, (int)len), out int r, out int c, out int x, out int y))
                            resize(r, c, x, y);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or EndOfStreamException) { }
        finally { ArrayPool<byte>.Shared.Return(buf); }
    }

    private async Task RunPipesAsync(AdbSocket socket)
    {
        using var p = new Process { StartInfo = StartInfo([]) };
        p.Start();
        var stdout = PumpOutputAsync(p.StandardOutput.BaseStream, socket, ShellPacketId.Stdout);
        var stderr = PumpOutputAsync(p.StandardError.BaseStream, socket, ShellPacketId.Stderr);
        var stdinStream = p.StandardInput.BaseStream;
        var input = PumpInputAsync(socket, stdinStream, () => { try { stdinStream.Close(); } catch (IOException) { } }, null);
        using var reg = socket.Closed.Register(() => Kill(p));
        await p.WaitForExitAsync().ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(stdout, stderr), Task.Delay(2000)).ConfigureAwait(false);
        await FinishAsync(socket, p.ExitCode).ConfigureAwait(false);
    }

    private async Task RunPtyAsync(AdbSocket socket)
    {
        int master = Libc.posix_openpt(Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        if (master < 0) throw new IOException("posix_openpt failed");
        using var masterHandle = new SafeFileHandle(master, ownsHandle: true);
        if (Libc.grantpt(master) != 0 || Libc.unlockpt(master) != 0) throw new IOException("grantpt/unlockpt failed");
        string pts = Libc.PtsName(master);
        int slave = Libc.open(pts, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        if (slave < 0) throw new IOException("cannot open " + pts);
        if (!_identity.IsProcessIdentity && Identity.ProcessIsRoot) Libc.chown(pts, _identity.Uid, _identity.Gid);
        var psi = StartInfo(["/bin/sh", "-c", "p=$ADBD_PTS; unset ADBD_PTS; exec /usr/bin/setsid -c \"$@\" <>\"$p\" >&0 2>&0", "adbd-pty"]);
        psi.Environment["ADBD_PTS"] = pts;
        using var p = new Process { StartInfo = psi };
        using var ptyStream = new FileStream(masterHandle, FileAccess.ReadWrite, 0);
        try { p.Start(); }
        catch { Libc.close(slave); throw; }
        p.StandardInput.Close();
        var output = PumpOutputAsync(ptyStream, socket, ShellPacketId.Stdout);
        var input = PumpInputAsync(socket, ptyStream, () => { }, (r, c, x, y) => Libc.SetWindowSize(master, r, c, x, y));
        using var reg = socket.Closed.Register(() => Kill(p));
        await p.WaitForExitAsync().ConfigureAwait(false);
        Libc.close(slave);
        await Task.WhenAny(output, Task.Delay(2000)).ConfigureAwait(false);
        await FinishAsync(socket, p.ExitCode).ConfigureAwait(false);
    }

    private async Task FinishAsync(AdbSocket socket, int exitCode)
    {
        if (socket.RemoteClosed) return;
        try
        {
            if (_req.V2) await SendAsync(socket, ShellPacketId.Exit, new[] { (byte)(exitCode & 0xFF) }).ConfigureAwait(false);
        }
        catch (IOException) { }
        _log.LogDebug("shell exited with {Code}", exitCode);
    }

    private static void Kill(Process p)
    {
        try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (Exception) { }
    }

    /// <summary>Refusal in the shape the client prints: v2 stderr + exit 1, or raw text.</summary>
    public static async Task RefuseAsync(AdbSocket socket, bool v2, string message)
    {
        byte[] text = Encoding.UTF8.GetBytes(message + "\n");
        if (v2)
        {
            await socket.WriteAsync(ShellProtocol.Packet(ShellPacketId.Stderr, text)).ConfigureAwait(false);
            await socket.WriteAsync(ShellProtocol.Packet(ShellPacketId.Exit, [1])).ConfigureAwait(false);
        }
        else await socket.WriteAsync(text).ConfigureAwait(false);
    }
}
