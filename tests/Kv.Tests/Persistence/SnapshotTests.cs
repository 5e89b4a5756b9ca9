using System.Globalization;
using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Persistence;

/// <summary>
/// BGSAVE is a point-in-time snapshot without fork: writes that run while it is being serialized (overwrites,
/// deletes, in-place collection changes, TTL changes, new keys, SWAPDB, FLUSHDB) must not leak into the dump. The
/// dump is loaded by the real redis-server and its DEBUG DIGEST compared with kv's digest taken right before BGSAVE.
/// </summary>
public sealed class SnapshotTests(ITestOutputHelper output)
{
    private static byte[][] Cmd(params object[] args) =>
        args.Select(a => Encoding.UTF8.GetBytes(Convert.ToString(a, CultureInfo.InvariantCulture)!)).ToArray();

    [Fact]
    public async Task BgsaveWhileWritingYieldsExactlyTheStateAtBgsave()
    {
        await using var kv = await ServerProcess.StartKvAsync("--enable-debug-command", "yes");
        using var c = await kv.ConnectAsync();
        var setup = new List<byte[][]>();
        for (int db = 0; db < 2; db++)
        {
            setup.Add(Cmd("SELECT", db));
            for (int i = 0; i < 30000; i++) setup.Add(Cmd("SET", $"k:{i}", $"value-{db}-{i}"));
            for (int i = 0; i < 300; i++)
            {
                var push = new List<object> { "RPUSH", $"list:{i}" };
                for (int j = 0; j < 40; j++) push.Add($"e{j}");
                setup.Add(Cmd(push.ToArray()));
                setup.Add(Cmd("HSET", $"hash:{i}", "a", i, "b", "x", "c", new string('c', i % 100)));
                setup.Add(Cmd("ZADD", $"zset:{i}", 1, "one", 2.5, "two", i, "n"));
                setup.Add(Cmd("SADD", $"set:{i}", 1, 2, 3, $"s{i}"));
                if (i % 3 == 0) setup.Add(Cmd("PEXPIRE", $"hash:{i}", 100000000));
            }
        }
        setup.Add(Cmd("SELECT", 0));
        await PersistenceTestData.RunAsync(c, setup);
        var atBgsave = await PersistenceTestData.DigestAsync(kv);

        // BGSAVE and a burst of writes in one pipeline: they run right after the snapshot is taken, before the
        // writer thread got far, so most of them hit keys that are not yet written.
        var burst = new List<byte[][]> { Cmd("BGSAVE") };
        for (int i = 0; i < 30000; i += 7) burst.Add(Cmd("SET", $"k:{i}", "overwritten"));
        for (int i = 3; i < 30000; i += 11) burst.Add(Cmd("DEL", $"k:{i}"));
        for (int i = 0; i < 300; i += 2)
        {
            burst.Add(Cmd("LPUSH", $"list:{i}", "new"));
            burst.Add(Cmd("HSET", $"hash:{i}", "a", "changed", "z", "added"));
            burst.Add(Cmd("ZADD", $"zset:{i}", 99, "one"));
            burst.Add(Cmd("SREM", $"set:{i}", 1));
            burst.Add(Cmd("PERSIST", $"hash:{i}"));
            burst.Add(Cmd("EXPIRE", $"list:{i}", 5000));
        }
        for (int i = 0; i < 2000; i++) burst.Add(Cmd("SET", $"new:{i}", i));
        burst.Add(Cmd("SWAPDB", 0, 1));
        burst.Add(Cmd("SET", "k:5", "written-after-swap"));   // db 0 now holds the old db 1 dictionary
        burst.Add(Cmd("SELECT", 1));
        burst.Add(Cmd("SET", "k:1", "old-db0-dict-after-swap"));
        burst.Add(Cmd("DEL", "k:2"));
        burst.Add(Cmd("FLUSHDB"));                            // drops the old db 0 dictionary
        burst.Add(Cmd("SET", "k:1", "after-flush"));
        burst.Add(Cmd("SELECT", 0));
        var buf = new List<byte>();
        foreach (var cmd in burst) buf.AddRange(RespFormat.MultiBulk(cmd));
        await c.SendRawAsync(buf.ToArray());
        var first = await c.ReadReplyAsync();
        Assert.Equal("Background saving started", RespFormat.Text(first));
        for (int i = 1; i < burst.Count; i++)
        {
            var r = await c.ReadReplyAsync();
            Assert.False(r[0] == (byte)'-', RespFormat.Escape(r));
        }

        // Keep writing from a second connection until the save is over.
        using var w = await kv.ConnectAsync();
        int rounds = 0;
        while (await PersistenceTestData.InfoFieldAsync(c, "rdb_bgsave_in_progress") == "1")
        {
            await w.CommandAsync("SET", $"k:{rounds % 30000}", "late");
            await w.CommandAsync("RPUSH", $"list:{rounds % 300}", "late");
            rounds++;
        }
        Assert.Equal("ok", await PersistenceTestData.InfoFieldAsync(c, "rdb_last_bgsave_status"));
        var after = await PersistenceTestData.DigestAsync(kv);
        Assert.NotEqual(atBgsave, after);
        output.WriteLine($"digest at BGSAVE {atBgsave}, after writes {after}, {rounds} late write rounds");

        var dir = PersistenceTestData.CopyDumpToNewDir(Path.Combine(kv.Dir, "dump.rdb"));
        try
        {
            await using var redis = await ServerProcess.StartAsync(ServerKind.Redis, new ServerStartOptions { Dir = dir, Args = ["--enable-debug-command", "yes"] });
            Assert.Equal(atBgsave, await PersistenceTestData.DigestAsync(redis));
        }
        finally
        {
            PersistenceTestData.DeleteDir(dir);
        }
    }
}
