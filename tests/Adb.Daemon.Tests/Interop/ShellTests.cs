using System.Text.RegularExpressions;
using Adb.Daemon.Tests.Infrastructure;

namespace Adb.Daemon.Tests.Interop;

/// <summary>Debian's adb 29.0.6 (client + server) against our adbd: devices, shell, exec.</summary>
[Collection("connected")]
public class ShellTests(ConnectedDaemonFixture fx)
{
    private AdbTestEnv Env => fx.Env;

    [Fact]
    public void DevicesL_ListsDeviceWithBannerProperties()
    {
        var r = Env.Adb("devices", "-l");
        Assert.Equal(0, r.ExitCode);
        // Format of 29.0.6's host:devices-l: "%-22s state product:P model:M device:D transport_id:N".
        string expected = $"{Env.Serial,-22} device product:linux model:Linux_adbd device:{Environment.MachineName} transport_id:";
        string line = r.Stdout.Split('\n').Single(l => l.StartsWith(Env.Serial));
        Assert.StartsWith(expected, line);
        Assert.Matches(new Regex(@"transport_id:\d+$"), line);
        Assert.StartsWith("List of devices attached\n", r.Stdout);
    }

    [Fact]
    public void Shell_V2_ReturnsExitCodeAndSeparateStderr()
    {
        var r = Env.Adb("shell", "echo out; echo err >&2; exit 3");
        Assert.Equal(3, r.ExitCode);
        Assert.Equal("out\n", r.Stdout);
        Assert.Equal("err\n", r.Stderr);
    }

    [Fact]
    public void Shell_Stdin_IsPassedAndClosed()
    {
        var r = Env.Run("adb", ["-P", Env.ServerPort.ToString(), "shell", "cat; echo done"], stdin: "hello\n"u8.ToArray());
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("hello\ndone\n", r.Stdout);
    }

    [Fact]
    public void Shell_KilledBySignal_Returns128PlusSignal()
    {
        var r = Env.Adb("shell", "kill -9 $$");
        Assert.Equal(137, r.ExitCode);
    }

    [Fact]
    public void Shell_LegacyRaw_MergesOutputAndHasNoExitCode()
    {
        var r = Env.Adb("shell", "-x", "echo a; echo b >&2; exit 5");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("a\nb\n", r.Stdout);
    }

    [Fact]
    public void Shell_ForcedPty_RunsOnTerminal()
    {
        var r = Env.Adb("shell", "-tt", "tty; echo $TERM; exit 4");
        Assert.Equal(4, r.ExitCode);
        Assert.StartsWith("/dev/pts/", r.Stdout);
        Assert.Contains("\r\n", r.Stdout); // PTY line discipline turns \n into \r\n
    }

    [Fact]
    public void Shell_NoPty_IsNotATerminal()
    {
        var r = Env.Adb("shell", "-T", "tty");
        Assert.Equal("not a tty\n", r.Stdout);
        Assert.Equal(1, r.ExitCode);
    }

    [Fact]
    public void ExecOut_IsBinarySafe()
    {
        string file = Path.Combine(Env.Root, "binary.bin");
        byte[] data = new byte[300_000];
        new Random(7).NextBytes(data);
        File.WriteAllBytes(file, data);
        var psi = new System.Diagnostics.ProcessStartInfo("adb", ["-P", Env.ServerPort.ToString(), "exec-out", "cat", file]) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var kv in Env.AdbEnvironment()) psi.Environment[kv.Key] = kv.Value;
        using var p = System.Diagnostics.Process.Start(psi)!;
        var ms = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        Assert.Equal(data, ms.ToArray());
    }

    [Fact]
    public void Features_AreOnlyTheImplementedOnes()
    {
        var r = Env.Adb("-s", Env.Serial, "features");
        Assert.Equal("shell_v2\nstat_v2\nls_v2\nfixed_push_mkdir\nfixed_push_symlink_timestamp\n", r.Stdout);
    }

    [Fact]
    public void AuditLog_RecordsEveryOpen()
    {
        Env.Adb("shell", "echo audited-123");
        string audit = Env.AuditText();
        Assert.Contains("service=\"shell,v2,TERM=xterm,raw:echo audited-123\" result=ok", audit);
        Assert.Contains("key=" + Env.HostFingerprint(), audit);
    }

    [Fact]
    public void Shell_Interactive_GetsPtyWindowSizeAndExitCode()
    {
        // `script` gives Debian's client a terminal of 33x101, so it opens "shell,v2,TERM=..,pty:" and sends a
        // window-size packet; the remote stty must see the same size.
        // stdin stays open a little after the input: script ends the session at EOF.
        var r = Env.Run("/bin/sh", ["-c", $"(sleep 1; printf 'stty size; tty; exit 7\\n'; sleep 3) | script -qec 'stty rows 33 cols 101; adb -P {Env.ServerPort} shell' /dev/null"],
            timeoutMs: 30000);
        Assert.Contains("33 101\r\n", r.Stdout);
        Assert.Contains("/dev/pts/", r.Stdout);
        Assert.Equal(7, r.ExitCode);
    }
}
