// SER300/SER301 suggest server-side conditions instead of WATCH transactions; the point here is to test WATCH.
#pragma warning disable SER300, SER301
using System.Globalization;
using Kv.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Kv.Tests.Clients;

/// <summary>StackExchange.Redis (3.x) used unchanged against kv-server: handshake, strings, hashes, lists,
/// transactions with conditions, pub/sub.</summary>
public class StackExchangeRedisTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcess _kv = null!;
    private ConnectionMultiplexer _mux = null!;
    private readonly StringWriter _log = new();

    public async Task InitializeAsync()
    {
        _kv = await ServerProcess.StartKvAsync();
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_kv.Port.ToString(CultureInfo.InvariantCulture)}");
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        options.SyncTimeout = 10000;
        _mux = await ConnectionMultiplexer.ConnectAsync(options, _log);
    }

    public async Task DisposeAsync()
    {
        output.WriteLine(_log.ToString());
        await _mux.DisposeAsync();
        await _kv.DisposeAsync();
    }

    [Fact]
    public async Task Strings()
    {
        var db = _mux.GetDatabase();
        Assert.True(await db.StringSetAsync("se:s", "hello"));
        Assert.Equal("hello", (string?)await db.StringGetAsync("se:s"));
        Assert.False((await db.StringGetAsync("se:missing")).HasValue);
        Assert.Equal(5, await db.StringIncrementAsync("se:n", 5));
        Assert.Equal(2.5, await db.StringIncrementAsync("se:f", 2.5));
        Assert.Equal(11, await db.StringAppendAsync("se:s", " world"));
        Assert.True(await db.StringSetAsync("se:t", "x", TimeSpan.FromSeconds(100)));
        var ttl = await db.KeyTimeToLiveAsync("se:t");
        Assert.InRange(ttl!.Value.TotalSeconds, 98, 100);
        Assert.False(await db.StringSetAsync("se:s", "nx", when: When.NotExists));
        var many = await db.StringGetAsync(["se:s", "se:missing", "se:n"]);
        Assert.Equal(["hello world", null, "5"], many.Select(v => (string?)v));
        Assert.True(await db.KeyDeleteAsync("se:s"));
        await Assert.ThrowsAsync<RedisServerException>(() => db.ListLeftPushAsync("se:n", "x"));
    }

    [Fact]
    public async Task HashesAndLists()
    {
        var db = _mux.GetDatabase();
        await db.HashSetAsync("se:h", [new("a", "1"), new("b", "2")]);
        Assert.Equal("2", (string?)await db.HashGetAsync("se:h", "b"));
        Assert.Equal(2, await db.HashLengthAsync("se:h"));
        Assert.Equal(11, await db.HashIncrementAsync("se:h", "a", 10));
        var all = (await db.HashGetAllAsync("se:h")).ToDictionary(e => (string)e.Name!, e => (string?)e.Value);
        Assert.Equal("11", all["a"]);
        Assert.Equal(3, await db.ListRightPushAsync("se:l", ["x", "y", "z"]));
        Assert.Equal(["x", "y", "z"], (await db.ListRangeAsync("se:l")).Select(v => (string?)v));
        Assert.Equal("x", (string?)await db.ListLeftPopAsync("se:l"));
        Assert.Equal(2, await db.ListLengthAsync("se:l"));
        Assert.True(await db.SetAddAsync("se:set", "m"));
        Assert.True(await db.SortedSetAddAsync("se:z", "m", 1.5));
        Assert.Equal(1.5, await db.SortedSetScoreAsync("se:z", "m"));
    }

    [Fact]
    public async Task Transactions()
    {
        var db = _mux.GetDatabase();
        await db.StringSetAsync("se:tx", "1");
        var tran = db.CreateTransaction();
        tran.AddCondition(Condition.StringEqual("se:tx", "1"));
        var inc = tran.StringIncrementAsync("se:tx");
        var get = tran.StringGetAsync("se:tx");
        Assert.True(await tran.ExecuteAsync());
        Assert.Equal(2, await inc);
        Assert.Equal("2", (string?)await get);

        var failing = db.CreateTransaction();
        failing.AddCondition(Condition.StringEqual("se:tx", "1")); // it is 2 now
        _ = failing.StringSetAsync("se:tx", "never");
        Assert.False(await failing.ExecuteAsync());
        Assert.Equal("2", (string?)await db.StringGetAsync("se:tx"));

        var exists = db.CreateTransaction();
        exists.AddCondition(Condition.KeyNotExists("se:fresh"));
        _ = exists.StringSetAsync("se:fresh", "v");
        Assert.True(await exists.ExecuteAsync());
        Assert.Equal("v", (string?)await db.StringGetAsync("se:fresh"));
    }

    [Fact]
    public async Task PubSub()
    {
        var sub = _mux.GetSubscriber();
        var got = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var gotPattern = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await sub.SubscribeAsync(RedisChannel.Literal("se:news"), (_, msg) => got.TrySetResult(msg!));
        await sub.SubscribeAsync(RedisChannel.Pattern("se:n*"), (ch, msg) => gotPattern.TrySetResult($"{ch}:{msg}"));
        long receivers = await sub.PublishAsync(RedisChannel.Literal("se:news"), "hello");
        Assert.Equal(2, receivers);
        Assert.Equal("hello", await got.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("se:news:hello", await gotPattern.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await sub.UnsubscribeAllAsync();
    }

    [Fact]
    public async Task ServerApiAndManyConcurrentOps()
    {
        var server = _mux.GetServer(_mux.GetEndPoints()[0]);
        Assert.Equal(new Version(7, 0, 15), server.Version);
        var db = _mux.GetDatabase();
        var tasks = Enumerable.Range(0, 2000).Select(i => db.StringIncrementAsync("se:concurrent")).ToArray();
        await Task.WhenAll(tasks);
        Assert.Equal(2000, (long)await db.StringGetAsync("se:concurrent"));
        Assert.True(await db.PingAsync() < TimeSpan.FromSeconds(5));
    }
}
