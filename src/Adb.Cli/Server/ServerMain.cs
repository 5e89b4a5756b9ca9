using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Adb.Cli.Server;

/// <summary>
/// Server lifecycle (AOSP <c>client/main.cpp</c> adb_server_main): <c>adb server nodaemon</c> runs in the foreground
/// logging to stderr; <c>adb fork-server server --reply-fd N</c> (started by the client) binds, writes "OK\n" to
/// fd N, then detaches (setsid, stdio to $TMPDIR/adb.&lt;uid&gt;.log / /dev/null) and serves until host:kill.
/// </summary>
internal static partial class ServerMain
{
    /// <summary>Runs the server; returns the process exit code.</summary>
    public static async Task<int> RunAsync(int port, bool daemon, int replyFd)
    {
        TextWriter log;
        if (daemon)
        {
            string path = LogPath();
            var fs = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            log = new StreamWriter(fs) { AutoFlush = true };
        }
        else log = Console.Error;

        AdbServer server;
        try
        {
            server = new AdbServer(new IPEndPoint(IPAddress.Loopback, port), log);
        }
        catch (SocketException e)
        {
            string msg = $"error: could not install *smartsocket* listener: {(e.SocketErrorCode == SocketError.AddressAlreadyInUse ? "Address already in use" : e.Message)}";
            log.WriteLine(msg);
            if (daemon) Console.Error.WriteLine(msg);
            return 1;
        }
        server.WriteLog($"adb server started on tcp:{port} (version {AdbServer.ServerVersion}, {Environment.ProcessPath})");
        TryWriteServerPathFile(port);
        if (daemon)
        {
            if (replyFd == 1)
            {
                Console.Out.Write("OK\n");
                Console.Out.Flush();
            }
            Detach();
        }
        var run = server.RunAsync();
        await server.Stopped;
        await server.DisposeAsync();
        await Task.WhenAny(run, Task.Delay(500));
        server.WriteLog("adb server exiting");
        return 0;
    }

    /// <summary>$TMPDIR/adb.&lt;uid&gt;.log, or $ANDROID_ADB_LOG_PATH (AOSP adb_get_log_path / GetLogFilePath).</summary>
    public static string LogPath()
    {
        if (Environment.GetEnvironmentVariable("ANDROID_ADB_LOG_PATH") is { Length: > 0 } p) return p;
        string tmp = Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } t ? t : "/tmp";
        return Path.Combine(tmp, $"adb.{(OperatingSystem.IsWindows() ? 0 : getuid())}.log");
    }

    private static void TryWriteServerPathFile(int port)
    {
        try
        {
            string dir = HostKeys.AndroidDir();
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, $"adb.{port}"), Environment.ProcessPath ?? "adb");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static void Detach()
    {
        if (OperatingSystem.IsWindows()) return;
        string path = LogPath();
        int logFd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0x1a4 /* 0644 */);
        int nullFd = open("/dev/null", O_RDONLY, 0);
        if (nullFd >= 0) dup2(nullFd, 0);
        if (logFd >= 0)
        {
            dup2(logFd, 1);
            dup2(logFd, 2);
        }
        setsid();
    }

    private const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_APPEND = 0x400;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc")]
    private static partial uint getuid();
}
