using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Adb.Protocol;

namespace Adb.Cli.Client;

internal sealed partial class CommandLine
{
    /// <summary>
    /// <c>adb shell [-x] [-t|-T] [cmd...]</c>: shell v2 when both sides have <c>shell_v2</c> (exit code, separate
    /// stderr), a PTY when interactive (no command and stdin a terminal), raw <c>shell:</c> otherwise (rc 0).
    /// AOSP <c>client/commandline.cpp</c> adb_shell / RemoteShell, <c>shell_protocol.h</c>.
    /// </summary>
    private async Task<int> ShellAsync(string[] args)
    {
        bool noProtocol = false;
        int ttyFlags = 0;
        bool noTty = false;
        int i = 0;
        for (; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "-x") noProtocol = true;
            else if (a == "-t") ttyFlags++;
            else if (a == "-tt") ttyFlags += 2;
            else if (a == "-T") noTty = true;
            else if (a == "-n") { }
            else if (a == "--") { i++; break; }
            else break;
        }
        string command = string.Join(' ', args[i..]);
        var features = await client.DeviceFeaturesAsync();
        bool protocol = !noProtocol && features.Contains(AdbFeatures.ShellV2);
        bool stdinTty = !Console.IsInputRedirected;
        bool pty;
        if (noTty) pty = false;
        else if (ttyFlags > 0)
        {
            pty = stdinTty || ttyFlags > 1;
            if (!pty)
                Console.Error.WriteLine("Remote PTY will not be allocated because stdin is not a terminal.\nUse multiple -t options to force remote PTY allocation.");
        }
        else pty = command.Length == 0 && stdinTty;

        string service;
        if (protocol)
        {
            var parts = new List<string> { "v2" };
            if (Environment.GetEnvironmentVariable("TERM") is { Length: > 0 } term) parts.Add("TERM=" + term);
            parts.Add(pty ? "pty" : "raw");
            service = "shell," + string.Join(',', parts) + ":" + command;
        }
        else
        {
            if (command.Length > 4096) throw new AdbException("shell command too long");
            service = (pty ? "shell:" : (command.Length == 0 ? "shell,raw:" : "shell:")) + command;
        }

        var (s, _) = await client.OpenServiceAsync(service);
        byte[]? sttySaved = pty && stdinTty ? SetRawTerminal() : null;
        try
        {
            using (s)
                return protocol ? await ShellV2Async(s, pty) : await RawRelayAsync(s, sendStdin: true);
        }
        finally
        {
            if (sttySaved != null) RestoreTerminal(sttySaved);
        }
    }

    /// <summary><c>adb exec-out cmd args...</c>: <c>exec:cmd 'arg'…</c>, raw bytes to stdout.</summary>
    private async Task<int> ExecOutAsync(string[] args)
    {
        if (args.Length == 0) throw new AdbException("adb: exec-out requires an argument");
        var sb = new StringBuilder("exec:").Append(args[0]);
        foreach (string a in args[1..]) sb.Append(' ').Append(EscapeArg(a));
        NetworkStream s;
        try { (s, _) = await client.OpenServiceAsync(sb.ToString()); }
        catch (AdbException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 255;
        }
        using (s) return await RawRelayAsync(s, sendStdin: false);
    }

    /// <summary>AOSP escape_arg: wraps in single quotes, each ' becoming '\''.</summary>
    internal static string EscapeArg(string a) => "'" + a.Replace("'", "'\\''") + "'";

    private static async Task<int> RawRelayAsync(NetworkStream s, bool sendStdin)
    {
        using var stdout = new StdoutStream(1);
        if (sendStdin)
        {
            _ = Task.Run(async () =>
            {
                using var stdin = StdFd(0, FileAccess.Read);
                byte[] buf = new byte[64 * 1024];
                try
                {
                    int n;
                    while ((n = await stdin.ReadAsync(buf)) > 0) await s.WriteAsync(buf.AsMemory(0, n));
                }
                catch { }
            });
        }
        byte[] b = new byte[256 * 1024];
        try
        {
            int n;
            while ((n = await s.ReadAsync(b)) > 0) await stdout.WriteAsync(b.AsMemory(0, n));
        }
        catch (IOException) { }
        await stdout.FlushAsync();
        return 0;
    }

    private static async Task<int> ShellV2Async(NetworkStream s, bool pty)
    {
        using var stdout = new StdoutStream(1);
        using var stderr = new StdoutStream(2);
        var writeLock = new SemaphoreSlim(1, 1);
        async Task SendPacket(ShellPacketId id, ReadOnlyMemory<byte> data)
        {
            byte[] pkt = ShellProtocol.Packet(id, data.Span);
            await writeLock.WaitAsync();
            try { await s.WriteAsync(pkt); } finally { writeLock.Release(); }
        }
        if (pty && !Console.IsOutputRedirected)
        {
            // Window size through ioctl(TIOCGWINSZ): Console.WindowWidth would initialize .NET's terminal handling,
            // which rewrites the termios settings we made raw.
            if (Terminal.TryGetWindowSize(1, out int rows, out int cols, out int xp, out int yp))
            {
                try { await SendPacket(ShellPacketId.WindowSizeChange, ShellProtocol.WindowSize(rows, cols, xp, yp)); }
                catch { }
            }
        }
        _ = Task.Run(async () =>
        {
            using var stdin = StdFd(0, FileAccess.Read);
            byte[] buf = new byte[64 * 1024];
            try
            {
                int n;
                while ((n = await stdin.ReadAsync(buf)) > 0) await SendPacket(ShellPacketId.Stdin, buf.AsMemory(0, n));
                await SendPacket(ShellPacketId.CloseStdin, ReadOnlyMemory<byte>.Empty);
            }
            catch { }
        });

        int exitCode = 255;
        byte[] hdr = new byte[ShellProtocol.HeaderSize];
        byte[] data = new byte[256 * 1024];
        while (true)
        {
            if (!await SmartSocket.TryReadExactAsync(s, hdr)) break;
            var id = (ShellPacketId)hdr[0];
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(hdr.AsSpan(1));
            if (len > data.Length) data = new byte[len];
            if (!await SmartSocket.TryReadExactAsync(s, data.AsMemory(0, len))) break;
            switch (id)
            {
                case ShellPacketId.Stdout:
                    await stdout.WriteAsync(data.AsMemory(0, len));
                    await stdout.FlushAsync();
                    break;
                case ShellPacketId.Stderr:
                    await stderr.WriteAsync(data.AsMemory(0, len));
                    await stderr.FlushAsync();
                    break;
                case ShellPacketId.Exit:
                    if (len >= 1) exitCode = data[0];
                    break;
            }
        }
        return exitCode;
    }

    /// <summary>
    /// A plain stream on fd 0 (input only). Console.OpenStandardInput on a terminal goes through .NET's line editor
    /// (its own echo and terminal setup), which breaks a raw remote PTY. Output goes through <see cref="StdoutStream"/>.
    /// </summary>
    private static FileStream StdFd(int fd, FileAccess access) =>
        new(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false), access, 1);

    private static byte[]? SetRawTerminal() => Terminal.MakeRaw(0);

    private static void RestoreTerminal(byte[] saved) => Terminal.Restore(0, saved);
}
