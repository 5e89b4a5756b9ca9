using System.Diagnostics;
using Adb.Protocol;

namespace Adb.Cli.Tests;

/// <summary>root / unroot / reboot / tcpip through our client and server, compared with Debian's client and server.</summary>
[Collection("adb")]
public sealed class ControlCommandTests(AdbEnvironment env)
{
    [Fact]
    public async Task Root_WithoutCapabilityOrPolicy_SameReplyAsDebian()
    {
        // The shared adbd runs without --allow-root and the key has no 'root' capability.
        var d = await env.AdbAsync(ClientKind.Debian, ServerKind.Debian, "-s", env.Serial, "root");
        foreach (var (c, s) in (ValueTuple<ClientKind, ServerKind>[])[(ClientKind.Debian, ServerKind.Ours), (ClientKind.Ours, ServerKind.Debian), (ClientKind.Ours, ServerKind.Ours)])
        {
            var o = await env.AdbAsync(c, s, "-s", env.Serial, "root");
            Assert.Equal(d.Code, o.Code);
            Assert.Equal(d.Stdout, o.Stdout);
            Assert.Equal(d.Stderr, o.Stderr);
        }
    }

    private async Task<(Process Adbd, int Port, string Keys)> StartRootableAdbdAsync()
    {
        string keys = Path.Combine(env.Root, $"keys-root-{Guid.NewGuid():N}");
        using (var key = AdbKey.Load(Path.Combine(env.Home, ".android", "adbkey")))
            File.WriteAllText(keys, "root,shell,sync,forward,reverse " + key.PublicKeyLine("tester@adbhost") + "\n");
        int port = Proc.FreePort();
        var p = env.Start(Proc.Info(Path.Combine(AdbEnvironment.BinDir, "adbd"),
            ["--port", port.ToString(), "--keys", keys, "--allow-root", "--user", "nobody", "--audit-log", Path.Combine(env.Root, $"audit-{port}.log")], env));
        await Proc.WaitForPortAsync(port);
        return (p, port, keys);
    }

    [Theory]
    [InlineData(ClientKind.Debian, ServerKind.Debian)]
    [InlineData(ClientKind.Debian, ServerKind.Ours)]
    [InlineData(ClientKind.Ours, ServerKind.Debian)]
    [InlineData(ClientKind.Ours, ServerKind.Ours)]
    public async Task RootUnroot_RoundTrip_DeviceComesBack(ClientKind c, ServerKind s)
    {
        var (adbd, port, _) = await StartRootableAdbdAsync();
        var (server, serverPort) = await env.StartServerAsync(s);
        try
        {
            string serial = $"127.0.0.1:{port}";
            var conn = await env.AdbPortAsync(c, serverPort, null, "connect", serial);
            Assert.Equal($"connected to {serial}\n", conn.Stdout);
            var before = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "shell", "id -u");
            Assert.NotEqual("0\n", before.Stdout);

            var sw = Stopwatch.StartNew();
            var root = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "root");
            Assert.True(root.Code == 0, root.ToString());
            Assert.Equal("restarting adbd as root\n", root.Stdout);
            var id = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "shell", "id -u");
            Assert.Equal("0\n", id.Stdout);
            var again = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "root");
            Assert.Equal("adbd is already running as root\n", again.Stdout);

            var unroot = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "unroot");
            Assert.True(unroot.Code == 0, unroot.ToString());
            Assert.Equal("restarting adbd as non root\n", unroot.Stdout);
            var after = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "shell", "id -u");
            Assert.Equal(before.Stdout, after.Stdout);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"round trip took {sw.Elapsed}");
        }
        finally
        {
            AdbEnvironment.Kill(server);
            AdbEnvironment.Kill(adbd);
        }
    }

    [Fact]
    public async Task TcpipAndReboot_SameOutputAsDebian()
    {
        var outputs = new List<(RunResult Tcpip, RunResult Reboot, RunResult BadTcpip)>();
        foreach (var (c, s) in (ValueTuple<ClientKind, ServerKind>[])[(ClientKind.Debian, ServerKind.Debian), (ClientKind.Ours, ServerKind.Ours)])
        {
            var (adbd, port, _) = await StartRootableAdbdAsync();
            var (server, serverPort) = await env.StartServerAsync(s);
            try
            {
                string serial = $"127.0.0.1:{port}";
                await env.AdbPortAsync(c, serverPort, null, "connect", serial);
                var reboot = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "reboot");
                // reboot: restarts the daemon; it is back on the same port.
                await Proc.WaitForPortAsync(port);
                // The transport may still look online for a moment after reboot: wait until a shell answers.
                RunResult w = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "shell", "echo up");
                for (int i = 0; i < 100 && w.Stdout != "up\n"; i++)
                {
                    await Task.Delay(200);
                    w = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "shell", "echo up");
                }
                Assert.Equal("up\n", w.Stdout);
                var bad = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "tcpip", "notaport");
                int newPort = Proc.FreePort();
                var tcpip = await env.AdbPortAsync(c, serverPort, null, "-s", serial, "tcpip", newPort.ToString());
                await Proc.WaitForPortAsync(newPort);
                outputs.Add((tcpip with { StdoutBytes = System.Text.Encoding.UTF8.GetBytes(tcpip.Stdout.Replace(newPort.ToString(), "N")) }, reboot, bad));
            }
            finally
            {
                AdbEnvironment.Kill(server);
                AdbEnvironment.Kill(adbd);
            }
        }
        Assert.Equal("restarting in TCP mode port: N\n", outputs[0].Tcpip.Stdout);
        Assert.Equal(outputs[0].Tcpip.Stdout, outputs[1].Tcpip.Stdout);
        Assert.Equal(outputs[0].Tcpip.Code, outputs[1].Tcpip.Code);
        Assert.Equal(outputs[0].Reboot.Code, outputs[1].Reboot.Code);
        Assert.Equal(outputs[0].Reboot.Stdout, outputs[1].Reboot.Stdout);
        Assert.Equal(outputs[0].BadTcpip.Code, outputs[1].BadTcpip.Code);
        Assert.Equal(outputs[0].BadTcpip.Stderr, outputs[1].BadTcpip.Stderr);
    }
}
