using System.Diagnostics;
using System.Net.Sockets;
using Adb.Daemon.Native;
using Adb.Daemon.Tests.Infrastructure;
using Adb.Protocol;

namespace Adb.Daemon.Tests.Interop;

/// <summary>
/// Interrupted transfers and hostile peers: no partial file under the final name, and the daemon keeps serving.
/// The raw-transport cases speak the packet protocol directly (Debian's adb cannot be made to send bad packets).
/// </summary>
public class RobustnessTests
{
    private static string MakeSparseFile(string dir, long size)
    {
        string f = Path.Combine(dir, "big.bin");
        using (var fs = new FileStream(f, FileMode.Create)) fs.SetLength(size);
        return f;
    }

    private static async Task<bool> WaitForAsync(Func<bool> cond, int timeoutMs)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            if (cond()) return true;
            await Task.Delay(5);
        }
        return false;
    }

    private static Process StartPush(AdbTestEnv env, string src, string dst)
    {
        var psi = new ProcessStartInfo("adb", ["-P", env.ServerPort.ToString(), "push", src, dst]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var kv in env.AdbEnvironment()) psi.Environment[kv.Key] = kv.Value;
        return Process.Start(psi)!;
    }

    [Fact]
    public async Task SecondDaemonOnTheSamePort_ExitsWithAnErrorAndTheFirstKeepsServing()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync(Identity.ProcessIsRoot ? ["--user", "root"] : []);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])[AdbTestEnv.AdbdDll, "--port", env.DaemonPort.ToString(), "--bind", "127.0.0.1", "--keys", env.KeysFile])
            psi.ArgumentList.Add(a);
        using var second = Process.Start(psi)!;
        var stderr = second.StandardError.ReadToEndAsync();
        Assert.True(second.WaitForExit(20000), "the second adbd kept running on a busy port");
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("Address already in use", await stderr);
        await env.ConnectAsync();
        Assert.Equal("alive\n", env.Adb("shell", "echo alive").Stdout);
    }

    [Fact]
    public async Task ClientKilledMidPush_LeavesNoFileAndDaemonKeepsServing()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync(Identity.ProcessIsRoot ? ["--user", "root"] : []);
        await env.ConnectAsync();
        string src = MakeSparseFile(env.Root, 4L << 30);
        string dst = Path.Combine(env.Root, "dst");
        Directory.CreateDirectory(dst);
        using var push = StartPush(env, src, Path.Combine(dst, "final.bin"));
        Assert.True(await WaitForAsync(() => Directory.GetFiles(dst, ".final.bin.adbd-*.tmp").Any(f => new FileInfo(f).Length > 1_000_000), 30000),
            "the push never started writing its temp file");
        push.Kill(true);
        push.WaitForExit();
        Assert.False(File.Exists(Path.Combine(dst, "final.bin")));
        Assert.True(await WaitForAsync(() => Directory.GetFiles(dst).Length == 0, 10000), "temp file was not removed");
        Assert.Equal("alive\n", env.Adb("shell", "echo alive").Stdout);
    }

    [Fact]
    public async Task DaemonKilledMidPush_LeavesNoFileUnderFinalName()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync(Identity.ProcessIsRoot ? ["--user", "root"] : []);
        await env.ConnectAsync();
        string src = MakeSparseFile(env.Root, 4L << 30);
        string dst = Path.Combine(env.Root, "dst");
        Directory.CreateDirectory(dst);
        using var push = StartPush(env, src, Path.Combine(dst, "final.bin"));
        Assert.True(await WaitForAsync(() => Directory.GetFiles(dst, ".final.bin.adbd-*.tmp").Any(f => new FileInfo(f).Length > 1_000_000), 30000),
            "the push never started writing its temp file");
        env.KillDaemon();
        Assert.True(push.WaitForExit(20000));
        Assert.NotEqual(0, push.ExitCode);
        Assert.False(File.Exists(Path.Combine(dst, "final.bin")));
    }

    [Fact]
    public async Task DaemonKilledMidPush_NextPushIntoTheFolderRemovesOnlyItsStaleTempFile()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        string[] args = Identity.ProcessIsRoot ? ["--user", "root"] : [];
        await env.StartDaemonAsync(args);
        await env.ConnectAsync();
        string src = MakeSparseFile(env.Root, 4L << 30);
        string dst = Path.Combine(env.Root, "dst");
        Directory.CreateDirectory(dst);
        string final = Path.Combine(dst, "final.bin");
        using (var push = StartPush(env, src, final))
        {
            Assert.True(await WaitForAsync(() => Directory.GetFiles(dst, ".final.bin.adbd-*.tmp").Any(f => new FileInfo(f).Length > 1_000_000), 30000),
                "the push never started writing its temp file");
            env.KillDaemon();
            Assert.True(push.WaitForExit(20000));
        }
        // SIGKILL: nobody removed the temp file.
        string stale = Assert.Single(Directory.GetFiles(dst, ".final.bin.adbd-*.tmp"));
        // Not to be touched: the same shape with a live pid (this test process: a daemon still pushing), another
        // shape, a symlink with the shape and a dead pid, and a dead daemon's file in another folder.
        string live = Path.Combine(dst, $".final.bin.adbd-{Environment.ProcessId}-0123abcd.tmp");
        File.WriteAllText(live, "live");
        string other = Path.Combine(dst, ".final.bin.other.tmp");
        File.WriteAllText(other, "other");
        string link = Path.Combine(dst, ".x.adbd-2147483646-0123abcd.tmp");
        File.CreateSymbolicLink(link, other);
        string elsewhere = Path.Combine(env.Root, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        string farStale = Path.Combine(elsewhere, Path.GetFileName(stale));
        File.Copy(stale, farStale);

        await env.StartDaemonAsync(args);
        await env.WaitForStateAsync("device");
        string small = Path.Combine(env.Root, "small.txt");
        File.WriteAllText(small, "hello");
        var r = env.Adb("-s", env.Serial, "push", small, final);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello", File.ReadAllText(final));
        Assert.False(File.Exists(stale), "the killed daemon's temp file is still there");
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(other));
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.True(File.Exists(farStale));
        // The daemon's console logger writes from a background queue: give it a moment under load.
        Assert.True(await WaitForAsync(() => env.DaemonLogText().Contains("removed stale temp file"), 10000), env.DaemonLogText());
        string[] expected = ["final.bin", Path.GetFileName(live), Path.GetFileName(other), Path.GetFileName(link)];
        Assert.Equal(expected.Order(StringComparer.Ordinal), Directory.GetFileSystemEntries(dst).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("final.bin", 1234, 0xdeadbeefu)]
    [InlineData("a", 1, 0u)]
    [InlineData("we.ird.adbd-7-name", 99999, 0x0123abcdu)]
    public void TempName_RoundTrips(string name, int pid, uint random)
    {
        string t = Adb.Daemon.Services.SyncService.TempName(name, pid, random);
        Assert.True(Adb.Daemon.Services.SyncService.TryParseTempName(t, out int parsed));
        Assert.Equal(pid, parsed);
    }

    [Theory]
    [InlineData(".final.bin.adbd-deadbeef.tmp")]        // the old shape, without a pid: never swept
    [InlineData(".final.bin.adbd-12-DEADBEEF.tmp")]     // upper-case hex is not ours
    [InlineData(".final.bin.adbd-12-deadbee.tmp")]      // 7 hex digits
    [InlineData("final.bin.adbd-12-deadbeef.tmp")]      // not hidden
    [InlineData(".final.bin.adbd--deadbeef.tmp")]       // no pid
    [InlineData(".final.bin.adbd-1x-deadbeef.tmp")]
    [InlineData(".adbd-12-deadbeef.tmp")]               // no name
    [InlineData(".final.bin.adbd-12-deadbeef.tmp.bak")]
    public void TryParseTempName_RejectsOtherNames(string name) => Assert.False(Adb.Daemon.Services.SyncService.TryParseTempName(name, out _));

    private static async Task<(TcpClient, NetworkStream)> RawConnectAsync(AdbTestEnv env)
    {
        var c = new TcpClient();
        await c.ConnectAsync("127.0.0.1", env.DaemonPort);
        var s = c.GetStream();
        s.ReadTimeout = 10000;
        return (c, s);
    }

    [Fact]
    public async Task MalformedPackets_CloseOnlyThatConnection()
    {
        await using var env = new AdbTestEnv();
        env.AuthorizeHostKey();
        await env.StartDaemonAsync(Identity.ProcessIsRoot ? ["--user", "root"] : []);
        await env.ConnectAsync();

        // Bad magic.
        var (c1, s1) = await RawConnectAsync(env);
        using (c1)
        {
            byte[] h = new byte[24];
            new AdbPacketHeader(AdbCommand.CNXN, AdbVersion.Current, 4096, 0, 0, 0x12345678).WriteTo(h);
            await s1.WriteAsync(h);
            Assert.Equal(0, await s1.ReadAsync(new byte[1]));
        }
        // Payload longer than MAX_PAYLOAD.
        var (c2, s2) = await RawConnectAsync(env);
        using (c2)
        {
            byte[] h = new byte[24];
            AdbPacketHeader.Create(AdbCommand.CNXN, AdbVersion.Current, 4096, ReadOnlySpan<byte>.Empty, false).WriteTo(h);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(12), 2 * 1024 * 1024);
            await s2.WriteAsync(h);
            Assert.Equal(0, await s2.ReadAsync(new byte[1]));
        }
        // Garbage then hang-up mid-header.
        var (c3, s3) = await RawConnectAsync(env);
        using (c3) { await s3.WriteAsync(new byte[10]); }

        Assert.Equal("still\n", env.Adb("shell", "echo still").Stdout);
        Assert.Contains("protocol error", env.DaemonLogText());
    }

    [Fact]
    public async Task Handshake_ZeroChecksumCnxn_GetsA20ByteToken_AndLegacyPeerGetsChecksums()
    {
        await using var env = new AdbTestEnv();
        using var key = AdbKey.Generate();
        File.WriteAllText(env.KeysFile, key.PublicKeyLine("raw@test") + "\n");
        await env.StartDaemonAsync();

        // Like adb_shell: version 0x01000000, so every packet from adbd must carry the byte-sum checksum.
        var (c, s) = await RawConnectAsync(env);
        using (c)
        {
            await AdbPacketIO.WriteAsync(s, AdbCommand.CNXN, AdbVersion.Min, 4096, "host::\0"u8.ToArray(), withChecksum: false);
            var auth = await AdbPacketIO.ReadAsync(s, AdbVersion.MaxPayload);
            Assert.NotNull(auth);
            Assert.Equal(AdbCommand.AUTH, auth.Command);
            Assert.Equal((uint)AdbAuthType.Token, auth.Arg0);
            Assert.Equal(20, auth.Payload.Length);

            // A wrong signature gets a fresh token.
            await AdbPacketIO.WriteAsync(s, AdbCommand.AUTH, (uint)AdbAuthType.Signature, 0, new byte[256], true);
            var again = await AdbPacketIO.ReadAsync(s, AdbVersion.MaxPayload);
            Assert.Equal(AdbCommand.AUTH, again!.Command);
            Assert.NotEqual(auth.Payload.ToArray(), again.Payload.ToArray());

            await AdbPacketIO.WriteAsync(s, AdbCommand.AUTH, (uint)AdbAuthType.Signature, 0, key.SignToken(again.Payload.Span), true);
            byte[] hb = new byte[24];
            await s.ReadExactlyAsync(hb);
            var h = AdbPacketHeader.Read(hb);
            Assert.Equal(AdbCommand.CNXN, h.Command);
            Assert.Equal(AdbVersion.Current, h.Arg0);
            byte[] banner = new byte[h.DataLength];
            await s.ReadExactlyAsync(banner);
            Assert.Equal(AdbPacketHeader.Checksum(banner), h.DataCheck);
            Assert.StartsWith("device::", System.Text.Encoding.UTF8.GetString(banner));
            Assert.True(banner.Length < 4096);

            // A stream on a 4096-byte peer: WRTEs are cut to 4096 and acked one at a time.
            await AdbPacketIO.WriteAsync(s, AdbCommand.OPEN, 1, 0, "exec:head -c 10000 /dev/zero\0"u8.ToArray(), true);
            var okay = await AdbPacketIO.ReadAsync(s, 4096);
            Assert.Equal(AdbCommand.OKAY, okay!.Command);
            uint remote = okay.Arg0;
            int total = 0;
            while (true)
            {
                var p = await AdbPacketIO.ReadAsync(s, 4096);
                Assert.NotNull(p);
                if (p.Command == AdbCommand.CLSE) break;
                Assert.Equal(AdbCommand.WRTE, p.Command);
                total += p.Payload.Length;
                await AdbPacketIO.WriteAsync(s, AdbCommand.OKAY, 1, remote, default, true);
            }
            Assert.Equal(10000, total);
        }
    }
}
