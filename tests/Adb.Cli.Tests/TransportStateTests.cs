using System.Diagnostics;
using Adb.Protocol;

namespace Adb.Cli.Tests;

/// <summary>
/// Transport states and auth of our server (unauthorized → approve → device, vendor keys, reconnect after adbd
/// restarts), each compared with Debian's server where the output is observable. Every test uses its own adbd and
/// servers on fresh ports.
/// </summary>
[Collection("adb")]
public sealed class TransportStateTests(AdbEnvironment env)
{
    private static async Task<RunResult> WaitUntilAsync(Func<Task<RunResult>> probe, Func<RunResult, bool> done, int timeoutMs = 15_000)
    {
        var sw = Stopwatch.StartNew();
        RunResult r;
        do
        {
            r = await probe();
            if (done(r)) return r;
            await Task.Delay(100);
        } while (sw.ElapsedMilliseconds < timeoutMs);
        return r;
    }

    [Fact]
    public async Task UnknownKey_Unauthorized_ThenApproved_BecomesDevice()
    {
        string keys = Path.Combine(env.Root, $"keys-unauth-{Guid.NewGuid():N}");
        File.WriteAllText(keys, "");
        var (adbd, adbdPort) = await env.StartAdbdAsync(keys);
        var (debian, debianPort) = await env.StartServerAsync(ServerKind.Debian);
        var (ours, oursPort) = await env.StartServerAsync(ServerKind.Ours);
        try
        {
            string serial = $"127.0.0.1:{adbdPort}";
            var dConnect = await env.AdbPortAsync(ClientKind.Debian, debianPort, null, "connect", serial);
            var oConnect = await env.AdbPortAsync(ClientKind.Debian, oursPort, null, "connect", serial);
            Assert.Equal($"failed to authenticate to {serial}\n", dConnect.Stdout);
            Assert.Equal(dConnect.Stdout, oConnect.Stdout);
            Assert.Equal(dConnect.Code, oConnect.Code);

            var dDevices = await env.AdbPortAsync(ClientKind.Debian, debianPort, null, "devices");
            var oDevices = await env.AdbPortAsync(ClientKind.Debian, oursPort, null, "devices");
            Assert.Contains($"{serial}\tunauthorized\n", dDevices.Stdout);
            Assert.Equal(dDevices.Stdout, oDevices.Stdout);

            var dState = await env.AdbPortAsync(ClientKind.Debian, debianPort, null, "-s", serial, "shell", "true");
            var oState = await env.AdbPortAsync(ClientKind.Ours, oursPort, null, "-s", serial, "shell", "true");
            Assert.Equal(dState.Code, oState.Code);
            Assert.Equal(dState.Stderr, oState.Stderr);
            Assert.Contains("device unauthorized", oState.Stderr);

            // The operator approves the pending key (same key for both servers: one shared HOME).
            string fp;
            using (var key = AdbKey.Load(Path.Combine(env.Home, ".android", "adbkey"))) fp = key.Fingerprint;
            var approve = await env.AdbdKeysAsync("approve", fp, "--keys", keys);
            Assert.True(approve.Code == 0, approve.ToString());

            foreach (int port in (int[])[debianPort, oursPort])
            {
                var r = await WaitUntilAsync(() => env.AdbPortAsync(ClientKind.Ours, port, null, "-s", serial, "get-state"), x => x.Stdout == "device\n");
                Assert.Equal("device\n", r.Stdout);
            }
            var shell = await env.AdbPortAsync(ClientKind.Ours, oursPort, null, "-s", serial, "shell", "echo approved");
            Assert.Equal("approved\n", shell.Stdout);
        }
        finally
        {
            AdbEnvironment.Kill(ours);
            AdbEnvironment.Kill(debian);
            AdbEnvironment.Kill(adbd);
        }
    }

    [Fact]
    public async Task VendorKey_Authorized_UserKeyNot_ConnectsAsDevice()
    {
        string vendorDir = Path.Combine(env.Root, $"vendor-{Guid.NewGuid():N}");
        Directory.CreateDirectory(vendorDir);
        string keys = Path.Combine(env.Root, $"keys-vendor-{Guid.NewGuid():N}");
        using (var vendor = AdbKey.LoadOrCreate(Path.Combine(vendorDir, "lab.adb_key"), "lab@vendor"))
            File.WriteAllText(keys, vendor.PublicKeyLine("lab@vendor") + "\n");
        var extra = new Dictionary<string, string> { ["ADB_VENDOR_KEYS"] = vendorDir };
        var (adbd, adbdPort) = await env.StartAdbdAsync(keys);
        var (ours, oursPort) = await env.StartServerAsync(ServerKind.Ours, extra);
        try
        {
            string serial = $"127.0.0.1:{adbdPort}";
            var c = await env.AdbPortAsync(ClientKind.Ours, oursPort, extra, "connect", serial);
            Assert.Equal($"connected to {serial}\n", c.Stdout);
            var s = await env.AdbPortAsync(ClientKind.Ours, oursPort, extra, "-s", serial, "get-state");
            Assert.Equal("device\n", s.Stdout);
        }
        finally
        {
            AdbEnvironment.Kill(ours);
            AdbEnvironment.Kill(adbd);
        }
    }

    [Fact]
    public async Task AdbdRestart_TransportGoesOfflineThenReconnects()
    {
        var (adbd, adbdPort) = await env.StartAdbdAsync();
        var (ours, oursPort) = await env.StartServerAsync(ServerKind.Ours);
        try
        {
            string serial = $"127.0.0.1:{adbdPort}";
            var c = await env.AdbPortAsync(ClientKind.Debian, oursPort, null, "connect", serial);
            Assert.Equal($"connected to {serial}\n", c.Stdout);
            AdbEnvironment.Kill(adbd);
            var off = await WaitUntilAsync(() => env.AdbPortAsync(ClientKind.Debian, oursPort, null, "devices"), r => r.Stdout.Contains($"{serial}\toffline"));
            Assert.Contains($"{serial}\toffline\n", off.Stdout);
            // Back on the same port: the first retry comes 250 ms after the drop, the next ones every 10 s.
            (adbd, _) = await env.StartAdbdAsync(port: adbdPort);
            var on = await WaitUntilAsync(() => env.AdbPortAsync(ClientKind.Debian, oursPort, null, "devices"), r => r.Stdout.Contains($"{serial}\tdevice"), 25_000);
            Assert.Contains($"{serial}\tdevice\n", on.Stdout);
            var shell = await env.AdbPortAsync(ClientKind.Debian, oursPort, null, "-s", serial, "shell", "echo back");
            Assert.Equal("back\n", shell.Stdout);
        }
        finally
        {
            AdbEnvironment.Kill(ours);
            AdbEnvironment.Kill(adbd);
        }
    }

    [Fact]
    public async Task Disconnect_RemovesTransport_LikeDebian()
    {
        var (adbd, adbdPort) = await env.StartAdbdAsync();
        var (debian, debianPort) = await env.StartServerAsync(ServerKind.Debian);
        var (ours, oursPort) = await env.StartServerAsync(ServerKind.Ours);
        try
        {
            string serial = $"127.0.0.1:{adbdPort}";
            foreach (int port in (int[])[debianPort, oursPort])
                await env.AdbPortAsync(ClientKind.Debian, port, null, "connect", serial);
            var d = await env.AdbPortAsync(ClientKind.Debian, debianPort, null, "disconnect", serial);
            var o = await env.AdbPortAsync(ClientKind.Ours, oursPort, null, "disconnect", serial);
            Assert.Equal(d.Stdout, o.Stdout);
            Assert.Equal(d.Code, o.Code);
            var dl = await env.AdbPortAsync(ClientKind.Debian, debianPort, null, "devices");
            var ol = await env.AdbPortAsync(ClientKind.Debian, oursPort, null, "devices");
            Assert.Equal(dl.Stdout, ol.Stdout);
            Assert.DoesNotContain(serial, ol.Stdout);
        }
        finally
        {
            AdbEnvironment.Kill(ours);
            AdbEnvironment.Kill(debian);
            AdbEnvironment.Kill(adbd);
        }
    }

    [Fact]
    public async Task TrackDevices_ReportsEachChange_LikeDebian()
    {
        var (adbd, adbdPort) = await env.StartAdbdAsync();
        var (debian, debianPort) = await env.StartServerAsync(ServerKind.Debian);
        var (ours, oursPort) = await env.StartServerAsync(ServerKind.Ours);
        try
        {
            string serial = $"127.0.0.1:{adbdPort}";
            var transcripts = new List<string>();
            foreach (int port in (int[])[debianPort, oursPort])
            {
                using var s = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await s.ConnectAsync("127.0.0.1", port);
                await s.SendAsync("0012host:track-devices"u8.ToArray());
                var ms = new MemoryStream();
                var reading = Task.Run(async () =>
                {
                    byte[] b = new byte[4096];
                    int n;
                    try { while ((n = await s.ReceiveAsync(b)) > 0) lock (ms) ms.Write(b, 0, n); } catch { }
                });
                await Task.Delay(300);
                await env.AdbPortAsync(ClientKind.Debian, port, null, "connect", serial);
                await env.AdbPortAsync(ClientKind.Debian, port, null, "-s", serial, "wait-for-device");
                await env.AdbPortAsync(ClientKind.Debian, port, null, "disconnect", serial);
                await Task.Delay(500);
                s.Shutdown(System.Net.Sockets.SocketShutdown.Both);
                await reading.WaitAsync(TimeSpan.FromSeconds(5));
                lock (ms) transcripts.Add(System.Text.Encoding.ASCII.GetString(ms.ToArray()));
            }
            // Debian's tracker sends the full list at every state change (connecting/authorizing... then device,
            // then empty). The exact intermediate states race with the handshake, so compare the first and last
            // lists and that "device" was reported.
            foreach (string t in transcripts)
            {
                Assert.StartsWith("OKAY0000", t);
                Assert.Contains($"{serial}\tdevice\n", t);
                Assert.EndsWith("0000", t);
            }
        }
        finally
        {
            AdbEnvironment.Kill(ours);
            AdbEnvironment.Kill(debian);
            AdbEnvironment.Kill(adbd);
        }
    }

    [Fact]
    public async Task WaitForDevice_ReturnsOnceConnected()
    {
        var (adbd, adbdPort) = await env.StartAdbdAsync();
        var (ours, oursPort) = await env.StartServerAsync(ServerKind.Ours);
        try
        {
            string serial = $"127.0.0.1:{adbdPort}";
            var wait = env.AdbPortAsync(ClientKind.Ours, oursPort, null, "wait-for-device");
            await Task.Delay(500);
            Assert.False(wait.IsCompleted);
            await env.AdbPortAsync(ClientKind.Ours, oursPort, null, "connect", serial);
            var r = await wait.WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(0, r.Code);
        }
        finally
        {
            AdbEnvironment.Kill(ours);
            AdbEnvironment.Kill(adbd);
        }
    }
}
