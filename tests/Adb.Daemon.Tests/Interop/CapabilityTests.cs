using System.Net.Sockets;
using Adb.Daemon.Native;
using Adb.Daemon.Tests.Infrastructure;

namespace Adb.Daemon.Tests.Interop;

/// <summary>
/// Per-key capabilities and the log-pull scenario: a key holding only <c>sync-read=DIR</c> pulls from a folder the
/// serving user (nobody) cannot read, and can neither write there nor open a shell. Needs the tests to run as root
/// (adbd drops to --user nobody); as non-root the scenario cannot be built and the test returns early.
/// </summary>
public class CapabilityTests
{
    private static string MakeProtectedDir(AdbTestEnv env, out string secret)
    {
        string dir = Path.Combine(env.Root, "data-logs");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // 0700 root
        secret = Path.Combine(dir, "app.log");
        File.WriteAllText(secret, "secret log line\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite); // 0600 root
        return dir;
    }

    [Fact]
    public async Task SyncReadKey_PullsFromRootOnlyDir_ButCannotWriteOrShell()
    {
        if (!Identity.ProcessIsRoot) return;
        await using var env = new AdbTestEnv();
        string dir = MakeProtectedDir(env, out string secret);
        File.CreateSymbolicLink(Path.Combine(dir, "escape"), "/etc/shadow");
        env.AuthorizeHostKey($"sync-read={dir}");
        await env.StartDaemonAsync("--user", "nobody");
        await env.ConnectAsync();

        string local = Path.Combine(env.Root, "pulled.log");
        var pull = env.Adb("pull", secret, local);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal("secret log line\n", File.ReadAllText(local));
        Assert.Contains(" app.log\n", env.Adb("ls", dir).Stdout);

        string src = Path.Combine(env.Root, "upload.txt");
        File.WriteAllText(src, "x");
        var push = env.Adb("push", src, Path.Combine(dir, "upload.txt"));
        Assert.Equal(1, push.ExitCode);
        Assert.Contains("read-only sync access", push.Stdout + push.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "upload.txt")));

        var shell = env.Adb("shell", "cat " + secret);
        Assert.Equal(1, shell.ExitCode);
        Assert.Contains("lacks the 'shell' capability", shell.Stderr);
        Assert.DoesNotContain("secret", shell.Stdout);

        var outside = env.Adb("pull", "/etc/shadow", Path.Combine(env.Root, "shadow"));
        Assert.Equal(1, outside.ExitCode);
        var escape = env.Adb("pull", Path.Combine(dir, "escape"), Path.Combine(env.Root, "escape"));
        Assert.Equal(1, escape.ExitCode);
        Assert.False(File.Exists(Path.Combine(env.Root, "escape")) && File.ReadAllText(Path.Combine(env.Root, "escape")).Contains("root:"));
        var dotdot = env.Adb("pull", dir + "/../../../etc/shadow", Path.Combine(env.Root, "shadow2"));
        Assert.Equal(1, dotdot.ExitCode);

        string audit = env.AuditText();
        Assert.Contains("service=\"sync:\" result=ok (read-only: " + dir + ")", audit);
        Assert.Contains("result=refused (no shell capability)", audit);
    }

    [Fact]
    public async Task DefaultKey_ServesAsNobody_AndCannotReadRootOnlyDir()
    {
        if (!Identity.ProcessIsRoot) return;
        await using var env = new AdbTestEnv();
        MakeProtectedDir(env, out string secret);
        env.AuthorizeHostKey();
        await env.StartDaemonAsync(); // default --user when started as root: nobody
        await env.ConnectAsync();
        Assert.Equal("65534\n", env.Adb("shell", "id -u").Stdout);
        var pull = env.Adb("pull", secret, Path.Combine(env.Root, "p.log"));
        Assert.Equal(1, pull.ExitCode);
        Assert.Contains("Permission denied", pull.Stdout + pull.Stderr);
        var cat = env.Adb("shell", "cat " + secret);
        Assert.Equal(1, cat.ExitCode);
        Assert.Contains("Permission denied", cat.Stderr);
    }

    [Fact]
    public async Task SyncOnlyKey_ShellAndForwardAreRefused()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey("sync");
        await env.StartDaemonAsync(Identity.ProcessIsRoot ? ["--user", "root"] : []);
        await env.ConnectAsync();
        var shell = env.Adb("shell", "echo no");
        Assert.Equal(1, shell.ExitCode);
        Assert.Equal("", shell.Stdout);
        Assert.Contains("lacks the 'shell' capability", shell.Stderr);

        using var echo = new EchoServer();
        int local = Ports.Next();
        Assert.Equal(0, env.Adb("forward", $"tcp:{local}", $"tcp:{echo.Port}").ExitCode);
        using var c = new TcpClient("127.0.0.1", local);
        var s = c.GetStream();
        s.ReadTimeout = 10000;
        try { s.Write("ping"u8); } catch (IOException) { }
        byte[] buf = new byte[4];
        int n;
        try { n = s.Read(buf); } catch (IOException) { n = 0; }
        Assert.Equal(0, n); // the device refused the stream: the server closes the local socket
        Assert.Equal(0, echo.Accepted);

        var rev = env.Adb("reverse", $"tcp:{Ports.Next()}", $"tcp:{echo.Port}");
        Assert.Equal(1, rev.ExitCode);
        Assert.Contains("lacks the 'reverse' capability", rev.Stderr);

        string audit = env.AuditText();
        Assert.Contains("result=refused (no shell capability)", audit);
        Assert.Contains("result=refused (no forward capability)", audit);
    }
}
