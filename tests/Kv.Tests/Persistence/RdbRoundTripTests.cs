using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Persistence;

/// <summary>
/// RDB compatibility with the real redis-server 7.0.15 in both directions: a dump written by redis loads in
/// kv-server with identical data, and a dump written by kv-server (SAVE and BGSAVE) loads in redis with identical
/// data. Identity is checked with DEBUG DIGEST (same algorithm on both) and by reading every value back.
/// </summary>
public sealed class RdbRoundTripTests(ITestOutputHelper output)
{
    private static readonly string[] Debug = ["--enable-debug-command", "yes"];

    [Theory]
    [InlineData("")]
    [InlineData("--list-compress-depth 1")]                   // LZF-compressed quicklist nodes
    [InlineData("--rdbcompression no --rdbchecksum no")]      // raw strings, zero CRC (not verified)
    public async Task RedisDumpLoadsInKvWithIdenticalData(string redisOptions)
    {
        await using var redis = await ServerProcess.StartRedisAsync(Debug.Concat(redisOptions.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray());
        using (var c = await redis.ConnectAsync())
        {
            await PersistenceTestData.RunAsync(c, PersistenceTestData.RichDataset());
            Assert.Equal("OK", RespFormat.Text(await c.CommandAsync("SAVE")));
        }
        var redisDigest = await PersistenceTestData.DigestAsync(redis);
        Assert.NotEqual(new string('0', 40), redisDigest);
        var dir = PersistenceTestData.CopyDumpToNewDir(Path.Combine(redis.Dir, "dump.rdb"));
        try
        {
            await using var kv = await ServerProcess.StartAsync(ServerKind.Kv, new ServerStartOptions { Dir = dir, Args = Debug });
            Assert.Equal(redisDigest, await PersistenceTestData.DigestAsync(kv));
            var expected = await PersistenceTestData.DumpValuesAsync(redis);
            var actual = await PersistenceTestData.DumpValuesAsync(kv);
            Assert.Equal(expected.Keys, actual.Keys);
            foreach (var k in expected.Keys) Assert.True(expected[k] == actual[k], $"{k}: redis {expected[k][..Math.Min(200, expected[k].Length)]} kv {actual[k][..Math.Min(200, actual[k].Length)]}");
            output.WriteLine($"{expected.Count} keys identical, digest {redisDigest}");
        }
        finally
        {
            PersistenceTestData.DeleteDir(dir);
        }
    }

    [Theory]
    [InlineData("SAVE", "")]
    [InlineData("BGSAVE", "")]
    [InlineData("SAVE", "--rdbcompression no --rdbchecksum no")]
    public async Task KvDumpLoadsInRedisWithIdenticalData(string saveCommand, string kvOptions)
    {
        // The same commands on a reference redis give the expected digest and encodings.
        await using var reference = await ServerProcess.StartRedisAsync(Debug);
        await using var kv = await ServerProcess.StartKvAsync(Debug.Concat(kvOptions.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray());
        var data = PersistenceTestData.RichDataset();
        using (var c = await reference.ConnectAsync()) await PersistenceTestData.RunAsync(c, data);
        using (var c = await kv.ConnectAsync())
        {
            await PersistenceTestData.RunAsync(c, data);
            var reply = RespFormat.Text(await c.CommandAsync(saveCommand));
            Assert.Equal(saveCommand == "SAVE" ? "OK" : "Background saving started", reply);
            if (saveCommand == "BGSAVE") await PersistenceTestData.WaitBgsaveDoneAsync(c, TimeSpan.FromSeconds(30));
            Assert.Equal("ok", await PersistenceTestData.InfoFieldAsync(c, "rdb_last_bgsave_status"));
            Assert.Equal("0", await PersistenceTestData.InfoFieldAsync(c, "rdb_changes_since_last_save"));
        }
        var expectedDigest = await PersistenceTestData.DigestAsync(reference);
        Assert.Equal(expectedDigest, await PersistenceTestData.DigestAsync(kv));
        var dir = PersistenceTestData.CopyDumpToNewDir(Path.Combine(kv.Dir, "dump.rdb"));
        try
        {
            await using var loaded = await ServerProcess.StartAsync(ServerKind.Redis, new ServerStartOptions { Dir = dir, Args = Debug });
            // The log is captured asynchronously: give it a moment to arrive.
            for (int i = 0; i < 100 && !loaded.Log.Contains("DB loaded from disk", StringComparison.Ordinal); i++) await Task.Delay(50);
            Assert.True(loaded.Log.Contains("DB loaded from disk", StringComparison.Ordinal), loaded.Log);
            Assert.Equal(expectedDigest, await PersistenceTestData.DigestAsync(loaded));
            var expected = await PersistenceTestData.DumpValuesAsync(reference);
            var actual = await PersistenceTestData.DumpValuesAsync(loaded);
            Assert.Equal(expected, actual);
            // The compact encodings we write are the ones redis itself would pick for the same data.
            using var rc = await reference.ConnectAsync();
            using var lc = await loaded.ConnectAsync();
            foreach (var key in new[] { "l:small", "l:big", "set:int", "set:str", "set:big", "h:small", "h:big", "h:longval", "z:small", "z:big", "z:longmember" })
            {
                var want = RespFormat.Text(await rc.CommandAsync("OBJECT", "ENCODING", key));
                var got = RespFormat.Text(await lc.CommandAsync("OBJECT", "ENCODING", key));
                Assert.True(want == got, $"{key}: redis encoding {want}, after loading kv's dump {got}");
            }
        }
        finally
        {
            PersistenceTestData.DeleteDir(dir);
        }
    }

    [Fact]
    public async Task DebugReloadKeepsDataAndDigestMatchesRedis()
    {
        await using var redis = await ServerProcess.StartRedisAsync(Debug);
        await using var kv = await ServerProcess.StartKvAsync(Debug);
        var data = PersistenceTestData.RichDataset();
        foreach (var s in new[] { redis, kv })
        {
            using var c = await s.ConnectAsync();
            await PersistenceTestData.RunAsync(c, data);
        }
        var before = await PersistenceTestData.DigestAsync(redis);
        Assert.Equal(before, await PersistenceTestData.DigestAsync(kv));
        foreach (var s in new[] { redis, kv })
        {
            using var c = await s.ConnectAsync();
            Assert.Equal("+OK\r\n", System.Text.Encoding.ASCII.GetString(await c.CommandAsync("DEBUG", "RELOAD")));
            Assert.Equal("-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n",
                System.Text.Encoding.ASCII.GetString(await c.CommandAsync("DEBUG", "RELOAD", "BAD")));
        }
        Assert.Equal(before, await PersistenceTestData.DigestAsync(kv));
        Assert.Equal(before, await PersistenceTestData.DigestAsync(redis));
        // Per-key digests (DEBUG DIGEST-VALUE) agree too, including for a missing key.
        using var rc = await redis.ConnectAsync();
        using var kc = await kv.ConnectAsync();
        string[] keys = ["s1", "int16", "lzf", "l:small", "l:big", "set:int", "set:big", "h:small", "h:big", "z:small", "z:big", "ttl:str", "missing"];
        var args = new[] { "DEBUG", "DIGEST-VALUE" }.Concat(keys).ToArray();
        Assert.Equal(RespFormat.Escape(await rc.CommandAsync(args)), RespFormat.Escape(await kc.CommandAsync(args)));
    }
}
