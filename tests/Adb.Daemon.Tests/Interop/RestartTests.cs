using System.Diagnostics;
using Adb.Daemon.Native;
using Adb.Daemon.Tests.Infrastructure;

namespace Adb.Daemon.Tests.Interop;

/// <summary>root:/unroot: (policy switch + key capability), reboot: and tcpip: with Debian's client and server.</summary>
public class RestartTests
{
    [Fact]
    public async Task RootUnroot_RoundTrip_WithAllowRootAndRootCapability()
    {
        if (!Identity.ProcessIsRoot) return;
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey("shell,root");
        await env.StartDaemonAsync("--allow-root", "--user", "nobody");
        await env.ConnectAsync();
        Assert.Equal("65534\n", env.Adb("shell", "id -u").Stdout);

        var sw = Stopwatch.StartNew();
        var root = env.Adb("root");
        Assert.Equal("restarting adbd as root\n", root.Stdout);
        Assert.Equal(0, root.ExitCode);
        await env.WaitForStateAsync("device");
        sw.Stop();
        Assert.True(sw.ElapsedMilliseconds < 5000, $"root took {sw.ElapsedMilliseconds} ms");
        Assert.Equal("0\n", env.Adb("shell", "id -u").Stdout);
        Assert.Equal("adbd is already running as root\n", env.Adb("root").Stdout);

        Assert.Equal("restarting adbd as non root\n", env.Adb("unroot").Stdout);
        await env.WaitForStateAsync("device");
        Assert.Equal("65534\n", env.Adb("shell", "id -u").Stdout);
        Assert.Equal("adbd not running as root\n", env.Adb("unroot").Stdout);
    }

    [Fact]
    public async Task Root_WithoutPolicySwitch_IsRefusedLikeAProductionBuild()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey("shell,root");
        await env.StartDaemonAsync(Identity.ProcessIsRoot ? ["--user", "nobody"] : []);
        await env.ConnectAsync();
        var r = env.Adb("root");
        Assert.Equal("adbd cannot run as root in production builds\n", r.Stdout);
        Assert.Equal(0, env.Adb("shell", "true").ExitCode);
    }

    [Fact]
    public async Task Root_WithoutRootCapability_IsRefused()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync("--allow-root");
        await env.ConnectAsync();
        var r = env.Adb("root");
        Assert.Contains("lacks the 'root' capability", r.Stdout);
        Assert.Contains("service=\"root:\" result=refused (no root capability)", env.AuditText());
    }

    [Fact]
    public async Task Reboot_RestartsDaemon_AndDeviceComesBack()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync(Identity.ProcessIsRoot ? ["--user", "root"] : []);
        await env.ConnectAsync();
        var r = env.Adb("reboot");
        Assert.Equal(0, r.ExitCode);
        // Right after the reboot Debian's server may still list the old transport as "device" for a moment, so
        // retry the shell (bounded) until the restarted daemon answers it.
        string got = "";
        for (int i = 0; i < 50 && got != "back\n"; i++)
        {
            await env.WaitForStateAsync("device");
            got = env.Adb("shell", "echo back").Stdout;
            if (got != "back\n") await Task.Delay(200);
        }
        Assert.Equal("back\n", got);
        Assert.Contains("restarting: reboot: requested", env.DaemonLogText());
    }

    [Fact]
    public async Task Tcpip_MovesListenerToNewPort()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync(Identity.ProcessIsRoot ? ["--user", "root"] : []);
        await env.ConnectAsync();
        int newPort = Ports.Next();
        var r = env.Adb("tcpip", newPort.ToString());
        Assert.Equal($"restarting in TCP mode port: {newPort}\n", r.Stdout);
        var c = env.Adb("connect", $"127.0.0.1:{newPort}");
        Assert.Contains($"connected to 127.0.0.1:{newPort}", c.Stdout);
        Assert.Equal("moved\n", env.Adb("-s", $"127.0.0.1:{newPort}", "shell", "echo moved").Stdout);
    }
}
