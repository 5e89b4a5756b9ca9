using Adb.Daemon.Tests.Infrastructure;

namespace Adb.Daemon.Tests.Interop;

/// <summary>RSA authorization with Debian's server: pending keys, approve, deny, revoke.</summary>
public class AuthTests
{
    [Fact]
    public async Task UnknownKey_IsPendingUntilApproved()
    {
        await using var env = new AdbTestEnv();
        string fp = env.HostFingerprint();
        await env.StartDaemonAsync();
        env.StartServer();
        var connect = env.Adb("connect", env.Serial);
        // 29.0.6 reports the failure as soon as it sent its public key (reference §2.4, adbkit#42).
        Assert.Contains($"failed to authenticate to {env.Serial}", connect.Stdout);
        await env.WaitForStateAsync("unauthorized");
        var shell = env.Adb("-s", env.Serial, "shell", "echo hi");
        Assert.Equal(1, shell.ExitCode);
        Assert.Contains("device unauthorized", shell.Stderr);

        var list = env.Adbd("keys", "list", "--keys", env.KeysFile);
        Assert.Contains("pending", list.Stdout);
        Assert.Contains(fp, list.Stdout.Split("\npending (")[1]);

        var approve = env.Adbd("keys", "approve", fp[..8], "--keys", env.KeysFile);
        Assert.True(approve.ExitCode == 0, approve.ToString());
        await env.WaitForStateAsync("device");
        Assert.Equal("hi\n", env.Adb("-s", env.Serial, "shell", "echo hi").Stdout);
        Assert.Contains(fp, env.Adbd("keys", "list", "--keys", env.KeysFile).Stdout.Split("\npending (")[0]);
    }

    [Fact]
    public async Task DeniedKey_StaysUnauthorizedAndIsNotAuthorized()
    {
        await using var env = new AdbTestEnv();
        string fp = env.HostFingerprint();
        await env.StartDaemonAsync();
        env.StartServer();
        env.Adb("connect", env.Serial);
        await env.WaitForStateAsync("unauthorized");
        var deny = env.Adbd("keys", "deny", fp, "--keys", env.KeysFile);
        Assert.True(deny.ExitCode == 0, deny.ToString());
        await Task.Delay(600);
        Assert.Contains("device unauthorized", env.Adb("-s", env.Serial, "get-state").Stderr);
        Assert.DoesNotContain(fp, File.ReadAllText(env.KeysFile));
        Assert.Equal(1, env.Adb("-s", env.Serial, "shell", "true").ExitCode);
    }

    [Fact]
    public async Task RevokedKey_LosesAccess()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync();
        await env.ConnectAsync();
        Assert.Equal(0, env.Adb("shell", "true").ExitCode);
        var revoke = env.Adbd("keys", "revoke", env.HostFingerprint(), "--keys", env.KeysFile);
        Assert.True(revoke.ExitCode == 0, revoke.ToString());
        // The connection is closed; Debian's server reconnects, cannot sign any more and offers its key.
        await env.WaitForStateAsync("unauthorized");
        var shell = env.Adb("-s", env.Serial, "shell", "true");
        Assert.Equal(1, shell.ExitCode);
        Assert.Contains("unauthorized", shell.Stderr);
        Assert.Contains("revoked", env.DaemonLogText());
    }

    [Fact]
    public async Task KeysFile_MalformedLine_IsSkippedAndOthersStillWork()
    {
        await using var env = new AdbTestEnv();
        string line = env.CreateHostKey();
        File.WriteAllText(env.KeysFile, "bogus-capability " + line + "\nnot a key at all\n" + line + "\n");
        await env.StartDaemonAsync();
        await env.ConnectAsync();
        Assert.Equal(0, env.Adb("shell", "true").ExitCode);
        Assert.Contains("unknown capability 'bogus-capability'", env.DaemonLogText());
    }

    [Fact]
    public async Task TwoHosts_EachConnectionHasItsOwnAuthState()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync();
        await env.ConnectAsync();
        await using var stranger = new AdbTestEnv(env.DaemonPort);
        stranger.CreateHostKey();
        stranger.StartServer();
        stranger.Adb("connect", stranger.Serial);
        await stranger.WaitForStateAsync("unauthorized");
        Assert.Equal("device\n", env.Adb("-s", env.Serial, "get-state").Stdout);
        Assert.Equal("ok\n", env.Adb("shell", "echo ok").Stdout);
        Assert.Contains(stranger.HostFingerprint(), env.Adbd("keys", "list", "--keys", env.KeysFile).Stdout.Split("\npending (")[1]);
    }
}
