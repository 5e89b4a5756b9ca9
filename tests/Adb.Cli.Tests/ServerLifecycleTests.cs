using System.Net;
using System.Net.Sockets;

namespace Adb.Cli.Tests;

/// <summary>
/// Background server lifecycle of our adb (start-server, kill-server, -P, -L, ANDROID_ADB_SERVER_PORT, log file),
/// compared with Debian's adb doing the same on the same port.
/// </summary>
[Collection("adb")]
public sealed class ServerLifecycleTests(AdbEnvironment env)
{
    private static bool Listening(int port)
    {
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try { s.Connect(IPAddress.Loopback, port); return true; } catch (SocketException) { return false; }
    }

    private static async Task WaitClosedAsync(int port)
    {
        for (int i = 0; i < 100 && Listening(port); i++) await Task.Delay(50);
    }

    /// <summary>Last-resort cleanup: kills the process listening on <paramref name="port"/> if it is one of our adb/adb.dll.</summary>
    private static void KillOursListeningOn(int port)
    {
        if (!Listening(port)) return;
        string hexPort = port.ToString("X4");
        var inodes = File.ReadAllLines("/proc/net/tcp").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f[1].EndsWith(":" + hexPort) && f[3] == "0A").Select(f => f[9]).ToHashSet();
        foreach (string pidDir in Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                string cmd = File.ReadAllText(Path.Combine(pidDir, "cmdline"));
                if (!cmd.Contains(AdbEnvironment.BinDir)) continue;
                foreach (string fd in Directory.GetFiles(Path.Combine(pidDir, "fd")))
                {
                    var target = new FileInfo(fd).LinkTarget ?? "";
                    if (inodes.Any(i => target == $"socket:[{i}]"))
                    {
                        System.Diagnostics.Process.GetProcessById(int.Parse(Path.GetFileName(pidDir))).Kill();
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException) { }
        }
    }

    [Fact]
    public async Task StartServer_KillServer_SameMessagesAsDebian_AndLogs()
    {
        int port = Proc.FreePort();
        var results = new Dictionary<ClientKind, List<RunResult>>();
        try
        {
            foreach (var kind in (ClientKind[])[ClientKind.Debian, ClientKind.Ours])
            {
                var list = results[kind] = [];
                list.Add(await env.AdbPortAsync(kind, port, null, "start-server"));
                Assert.True(Listening(port), $"{kind}: nothing on {port} after start-server");
                list.Add(await env.AdbPortAsync(kind, port, null, "start-server"));
                list.Add(await env.AdbPortAsync(kind, port, null, "devices"));
                list.Add(await env.AdbPortAsync(kind, port, null, "kill-server"));
                await WaitClosedAsync(port);
                Assert.False(Listening(port), $"{kind}: server still up after kill-server");
                list.Add(await env.AdbPortAsync(kind, port, null, "kill-server"));
            }
            for (int i = 0; i < results[ClientKind.Debian].Count; i++)
            {
                var d = results[ClientKind.Debian][i];
                var o = results[ClientKind.Ours][i];
                Assert.True(d.Code == o.Code, $"step {i}: debian {d} ours {o}");
                Assert.Equal(d.Stdout, o.Stdout);
                Assert.Equal(d.Stderr, o.Stderr);
            }
            string log = await File.ReadAllTextAsync(Path.Combine(env.Tmp, $"adb.{GetUid()}.log"));
            Assert.Contains($"adb server started on tcp:{port}", log);
        }
        finally
        {
            await env.AdbPortAsync(ClientKind.Debian, port, null, "kill-server");
            KillOursListeningOn(port);
        }
    }

    [Fact]
    public async Task EnvPortAndListenSpec_SelectTheServerPort()
    {
        int a = Proc.FreePort(), b = Proc.FreePort();
        try
        {
            var psi = env.OurAdb(["start-server"]);
            psi.Environment["ANDROID_ADB_SERVER_PORT"] = a.ToString();
            var r = await Proc.RunAsync(psi);
            Assert.Contains($"starting now at tcp:{a}", r.Stderr);
            Assert.True(Listening(a));

            var r2 = await Proc.RunAsync(env.OurAdb(["-L", $"tcp:{b}", "start-server"]));
            Assert.Contains($"starting now at tcp:{b}", r2.Stderr);
            Assert.True(Listening(b));

            // Debian's client accepts our background server (host:version = 41) and can stop it.
            var v = await env.AdbPortAsync(ClientKind.Debian, a, null, "devices");
            Assert.Equal("List of devices attached\n\n", v.Stdout);
            Assert.Equal("", v.Stderr);
            await env.AdbPortAsync(ClientKind.Debian, a, null, "kill-server");
            await env.AdbPortAsync(ClientKind.Ours, b, null, "kill-server");
            await WaitClosedAsync(a);
            await WaitClosedAsync(b);
            Assert.False(Listening(a));
            Assert.False(Listening(b));
        }
        finally
        {
            KillOursListeningOn(a);
            KillOursListeningOn(b);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task FreshHome_ServerCreatesAdbKey_DebianServerUsesIt()
    {
        string home = Path.Combine(env.Root, $"home-fresh-{Guid.NewGuid():N}");
        Directory.CreateDirectory(home);
        var extra = new Dictionary<string, string> { ["HOME"] = home };
        var (ours, _) = await env.StartServerAsync(ServerKind.Ours, extra);
        AdbEnvironment.Kill(ours);
        string key = Path.Combine(home, ".android", "adbkey");
        Assert.True(File.Exists(key));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(key));
        string pub = File.ReadAllText(key + ".pub");
        Assert.False(pub.EndsWith('\n'));
        Assert.Equal(700, pub.IndexOf(' '));
        Assert.Equal(524, Convert.FromBase64String(pub[..700]).Length);

        // Debian's server signs with the key we wrote: an adbd that only knows our adbkey.pub accepts it.
        string keys = Path.Combine(env.Root, $"keys-fresh-{Guid.NewGuid():N}");
        File.WriteAllText(keys, pub + "\n");
        var (adbd, adbdPort) = await env.StartAdbdAsync(keys);
        var (debian, debianPort) = await env.StartServerAsync(ServerKind.Debian, extra);
        try
        {
            var c = await env.AdbPortAsync(ClientKind.Debian, debianPort, extra, "connect", $"127.0.0.1:{adbdPort}");
            Assert.Equal($"connected to 127.0.0.1:{adbdPort}\n", c.Stdout);
            Assert.Equal(pub, File.ReadAllText(key + ".pub"));
        }
        finally
        {
            AdbEnvironment.Kill(debian);
            AdbEnvironment.Kill(adbd);
        }
    }

    private static uint GetUid() => uint.Parse(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
}
