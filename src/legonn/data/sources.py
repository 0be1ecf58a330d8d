"""What `legonn data get` fetches: each dataset's files, their public sources and their SHA-256 sums.

The sums are those of the SHA256SUMS file each dataset folder of the data root carries (the copy CI reads,
../shared/data); utterances.tsv, which its folder's list leaves out, was hashed when this table was made.
Upstream URLs point at the exact commits the READMEs of ../shared/data name, so a download is the same bytes.
The Common Voice sample has no upstream URLs: its repository holds WAV files and a CSV, which were
converted (FLAC, a TSV with cut speaker hashes), so only a mirror of a data root serves its files as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


@dataclass(frozen=True)
class Dataset:
    """One folder of the data root: `sums` maps each file (relative to the folder) to its SHA-256;
    `upstream` maps it to the URL of its public source (absent: only a mirror has it)."""

    name: str
    source: str
    license: str
    sums: dict[str, str]
    upstream: dict[str, str]
    mirror_only: str = ""  # why no public source serves these files as they are


def _sums(text: str) -> dict[str, str]:
    """SHA256SUMS text ('<hex>  <path>' lines) → {path: hex}."""
    return {line.split(maxsplit=1)[1]: line.split(maxsplit=1)[0] for line in text.strip().splitlines()}


def _github(repo: str, commit: str, paths: dict[str, str]) -> dict[str, str]:
    return {local: RAW.format(repo=repo, commit=commit, path=remote) for local, remote in paths.items()}


_MULTI30K = ("multi30k/dataset", "a3d2e0d26b56f3846f66a952536ffed4e401d05a")
_ROSTS = ("dumitrescustefan/RO-STS", "98b5804b454892c70815777fe03e874ea7f20f1b")
_OPUS = ("Helsinki-NLP/OPUS-MT-testsets", "ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180")
_NTREX = "datasets/microsoft/ntrex/NTREX/NTREX-128"
_M30K_FILES = [f"{split}.{lang}.gz" for split in ("train", "val", "test_2016_flickr")
               for lang in ("cs", "de", "en", "fr")] + [f"test_2017_flickr.{lang}.gz" for lang in ("de", "en", "fr")]

DATASETS = {d.name: d for d in (
    Dataset(
        "multi30k", "GitHub multi30k/dataset, data/task1/raw/, commit a3d2e0d", "no license file; non-commercial "
        "research and education (upstream README); cite Elliott et al. 2016, WMT 2017, WMT 2018",
        _sums("""
200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1  test_2016_flickr.cs.gz
9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8  test_2016_flickr.de.gz
611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9  test_2016_flickr.en.gz
6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90  test_2016_flickr.fr.gz
a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee  test_2017_flickr.de.gz
76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074  test_2017_flickr.en.gz
3ba671ceb2299f3304ffafefea7a833d08632fbaf0ba18546f8a2ec2391af496  test_2017_flickr.fr.gz
a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077  train.cs.gz
726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6  train.de.gz
d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f  train.en.gz
622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c  train.fr.gz
b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc  val.cs.gz
f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a  val.de.gz
14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28  val.en.gz
ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9  val.fr.gz
"""),
        _github(*_MULTI30K, {name: f"data/task1/raw/{name}" for name in _M30K_FILES})),
    Dataset(
        "ro-en", "GitHub dumitrescustefan/RO-STS (commit 98b5804) and Helsinki-NLP/OPUS-MT-testsets (commit ac0f19c)",
        "RO-STS and NTREX-128 CC BY-SA 4.0 (share-alike); newstest2016 WMT test data, research use",
        _sums("""
219fa6df88e71a829cb31bc40f7cde7258e86c532d43ed7e0b1e2aaec5281ebc  rosts/RO-STS.dev.en
04be055b3b073483b5d36be54d86b3809c14edd707b16e909e23a98098b760c0  rosts/RO-STS.dev.ro
9088e52b259c5daf91ae830369ab51c3de0a1e377dd5ae17af6a3e75e1f81ff0  rosts/RO-STS.test.en
81df186cfe2763d21d05a8be6f5a9146ed3eaac9c6080b5a630309036e23c529  rosts/RO-STS.test.ro
4f977090eb8beeb61a76876b1ba60462104633979f2c13f439fb1134a43648a8  rosts/RO-STS.train.en
ea7ca3d0ca6c2c0ffa70413a2fe006a0aca55c9f467c6f30a4b6dcc731307838  rosts/RO-STS.train.ro
e883f089e3ee88cecd40a509aa743ae60be2d72c37cf1a97462f31855ab5c90b  newstest2016/newstest2016.en
f19bbf43c1de16c43ccaf8a05aacac3113a0cd2148d9f674c0fec118878abb18  newstest2016/newstest2016.ro
3a62f94f5c42a395d4452ec890ca45afc75866b5b4b1d493429433cfe8469fe9  ntrex/ntrex128.en
92c789a66f471e2f052c011ed55b202fda222ddbb9c23eead781f9a2ca146dca  ntrex/ntrex128.ro
"""),
        {**_github(*_ROSTS, {f"rosts/RO-STS.{split}.{lang}": f"dataset/ro-en/RO-STS.{split}.{lang}"
                             for split in ("train", "dev", "test") for lang in ("ro", "en")}),
         **_github(*_OPUS, {"newstest2016/newstest2016.ro": "testsets/ron-eng/newstest2016.ron",
                            "newstest2016/newstest2016.en": "testsets/ron-eng/newstest2016.eng",
                            "ntrex/ntrex128.en": f"{_NTREX}/newstest2019-src.eng.txt",
                            "ntrex/ntrex128.ro": f"{_NTREX}/newstest2019-ref.ron.txt"})}),
    Dataset(
        "commonvoice_en_sample100", "100 Mozilla Common Voice English v6.1 clips, via GitHub "
        "rigved/rit-engl-682-spring-2021-project (commit 637c494), WAV stored as FLAC", "CC0 1.0 (Mozilla); "
        "cite Ardila et al., LREC 2020",
        _sums("""
598c05c82b8657fbe249d783ada083613eb2640d1fac5133421794deaca5b7f6  flac/common_voice_en_17250887.flac
df586171bd27250a852060e848e9f33833a66dc9a2ae704f19e02e90ebb215e6  flac/common_voice_en_17256256.flac
6bb8dcd4c4be7e54bfffb7df0651cf09122a37e9433da8229e82261e2c315b4a  flac/common_voice_en_17257770.flac
a64c7614532f3a73cd71565a8cba16f3c117eb45aa9ed6305515e909d98b7f74  flac/common_voice_en_17258665.flac
7d8c7ebe473e8db9c6a8ef4318fa7403c43fb682cb66e4165305e96125a68ec6  flac/common_voice_en_17347411.flac
a6637e09c06cad5a1f5e5b55ed2e85706f06525356f298ac5d1ab162355053cd  flac/common_voice_en_17394719.flac
96c99dfe7c1bf634091a9fd00bf670523009b72f575adbbe79fc7f05b822a3ce  flac/common_voice_en_17417387.flac
6686936c35691e2608477a57a3f6032077d57932da8f05cdd48be249487cd90a  flac/common_voice_en_17618500.flac
5a54b3dd9a70780e400f68b936eac9cc70aa54803e781c2a5eb332a2e12f6ed4  flac/common_voice_en_17730637.flac
83994c99c1b6a85dcdc31928cff91ce9cfacd6a01e6c15f88c89ad4363f9ebec  flac/common_voice_en_17765901.flac
7a56726a61eb8dc9da56aee5da4e3c2fe1471ef2d933cc3831666b32a793a509  flac/common_voice_en_17767698.flac
21a95b89053bc5ce7cd85fc0258da7726deb4187823ae47e990217c44c685a80  flac/common_voice_en_17770420.flac
5093f913211b9bf121b1a5ccc8650ae136e7d0b7e7e4be0aed8c69f9a68e3858  flac/common_voice_en_17781157.flac
9b48745b74b107c01da355a6484126a7d4f7775c488f59e1c34f5ea09e7b67ba  flac/common_voice_en_17782315.flac
263df05ea2896e8bfdf0e0edeeb9dbae41efef8a3694aa5f84225e38b46e758c  flac/common_voice_en_17816777.flac
328e8a627377b79e2acf9b3e7aab0974c31d3bf20b1252f1c66f268e44d496f0  flac/common_voice_en_17828252.flac
55fa30e97290b788ac6265075511230bbee108ce71cc3548a3336e7f92f0a61f  flac/common_voice_en_17857617.flac
8681f4e5c0bd5f4faf9f752c5dc6c34cbaa034c273dbd80192a61f8b2f6b2e4f  flac/common_voice_en_17889760.flac
a730534849956a10adfa14a0fe1fca3d6c3a5621e91606f5847a7547f19be3ba  flac/common_voice_en_17899695.flac
8139adc97330c2398810257517084dfdcbc7e783a63495354d5b4d63de52523c  flac/common_voice_en_18039938.flac
771661915748628a9248ab5dd3a62868bcba940d3588a84d61888074dd81ecee  flac/common_voice_en_18045098.flac
10d81abb6a183c7e45dc6e7ccd040826efc95017702ab1e61adaef04fcb0eaf0  flac/common_voice_en_18253926.flac
bbba94e3d9661e7110660db06b71827a6e217c0a61c8c0dc96104e0658943234  flac/common_voice_en_18265925.flac
0d9fee2f9071328ca8a63227c91dc8ab28c2fb06700fd7aa6abd6045b102e234  flac/common_voice_en_18340655.flac
d46fc696a59df47b355057fa6b8d8ebe68c97f5aba1f4d149a80effe75d56e01  flac/common_voice_en_18349094.flac
e87cee6586fde0e0faa412ecd32d96ea57e4d9525c91dea73e801cec3d511967  flac/common_voice_en_18466094.flac
c3fcf6e47c6d9e6bbbef51008dbbfb95f92fea372ea98c69df27ed6d51915a6b  flac/common_voice_en_18522554.flac
362285cfec08e7b5a591133d69bc79cdc1cfff100fad7a693e3bff8839529ed3  flac/common_voice_en_18546207.flac
1b3678c4adc15c6870cf0e9e2930058abc00769dae5df99df9bb093b5acecc90  flac/common_voice_en_18554437.flac
15bb3f30b1b12b74f8888f7440c5b706709797bec920f657e322c12d862f6b5e  flac/common_voice_en_18575865.flac
5b97e90c5ec753325e80e2c4a4db6cdd70e7e6fcf2cad2cb7b0e5cacde09bb46  flac/common_voice_en_1858945.flac
dc0876c95b57efd811d785131552eb38e906be4c8225016bcb0f5132484366d9  flac/common_voice_en_18646336.flac
333d1e811bf6bcf7c91dd4c619cde55043e6cf85ae63d0aa2179dc5e0020ad1f  flac/common_voice_en_18693239.flac
d5d131864154b4e541cf96b1155575d1ca5c2874273d346c946a0492e4442f18  flac/common_voice_en_18709478.flac
b50146490329819661a8d7c80bc193572d938eccec49b1bf9d13164cc4f45651  flac/common_voice_en_18756633.flac
965ab3d9ded3f4cf25cd1c50ea487e94f88b6fe105b20b21fa95acc8b32dcc97  flac/common_voice_en_18794114.flac
d7bcca4ff6be1206ebe3f564490a79b3b68efba06854c159cefbff0cd4e1d034  flac/common_voice_en_18820498.flac
2737df15f87e9c43ed19070694804335406d17104d5816a4519c617febda5e94  flac/common_voice_en_18846044.flac
76d92294c0e1f937a3ad4970afe41fe318ea1713c7755a4999864bc2d8d92209  flac/common_voice_en_18890550.flac
c32ed947ab907e07cb658f388d4cdcc3e386374a479c62b0bd6c1079f1766ad9  flac/common_voice_en_18933160.flac
e81d290227b17a5879489ff797fda4396000f89bd58985e3f5e6ff5fc01bf907  flac/common_voice_en_18954056.flac
5ff02450adacb78500f466c72ac12fc2af8a380d73f6220a087e2dc2591f5946  flac/common_voice_en_18969456.flac
4084b8f842618d776fa0cf7b540fc27a031eab4d0ce589a9229de2203608c192  flac/common_voice_en_18990243.flac
d95b00f318cccca54eefc706fd51eda27b148c940708c4598e6b313091166edc  flac/common_voice_en_19051206.flac
ceec5b88bf92672212471166ea8aec4ed38b33b5bb83d2e8e61020c2133bd444  flac/common_voice_en_19063148.flac
5c421c089d4c64bb2b6a1c684f124ffaf37f1a212aec142898b81784366b1a17  flac/common_voice_en_19105945.flac
3b0c9aaffe56e2c474fd0b387cb5871ea346b251be0eceec0a29cab07fbfc34f  flac/common_voice_en_19127459.flac
208a06bae3905410025ca2553e1c1ef83116f31d1eccad9bfab4e6c40e3b4597  flac/common_voice_en_19172268.flac
34efe188bff57c620a061d0cbae77108a559943735f48e483d8931eead3476f8  flac/common_voice_en_19175551.flac
bb46429a9f3ee7610c5aaf89263b7e508b3d60cec7193283a8fb1034d0ccc5ad  flac/common_voice_en_19325778.flac
a06ba4ac61a39ffb5ce07cf1d3b2ac1d66b3331a2dc03b1f4143f7839a687bcf  flac/common_voice_en_19462004.flac
b290d256bd41490856102cc3ba7e311b0493f24ebbd75b0a3bce06e89daa5683  flac/common_voice_en_19552037.flac
b317cfbbd0c053e98ff8a9e92f7c2fe8b30688c03cd13b93b3b591458192c729  flac/common_voice_en_19598503.flac
5d4707fb32177a1c76912446f42c313579c7f6eba0a66ac5ed3fc7e5df090d42  flac/common_voice_en_19649568.flac
d7e2bd3939e9408945964a0291810036a26a8b945c907800136bd57ae768350b  flac/common_voice_en_19678886.flac
6cfc025321327f381054d3362d7c6a99155ccd610cefd7e7fab1bd32e812b1cb  flac/common_voice_en_19691296.flac
215f67d6a096fbbd4450b9d24dea118de3b1fbd751a19fe4c9faaaf54ecf60b3  flac/common_voice_en_19732443.flac
f5f33c2e33ba74f3ffc97a2fad49214a2ebaecef0f6ce8b7f3ff48b1fe03ce25  flac/common_voice_en_19733184.flac
cccd86f7b9f27f24745086eaa3351d6e1f00dd927338ef7c5a71f82a048a2dfb  flac/common_voice_en_19745476.flac
307b5beab1bb1979e664e944f805a36dde22b0c81f84500cdbbbd2001bd02fd6  flac/common_voice_en_19753195.flac
14cb3b7af1aba44f0866339c63edd5f0e4aafd2087dd18711aaf8aae3297469d  flac/common_voice_en_19760367.flac
b4874eee84b3bd6061560aeb75fd0b3e561ea12622b0648136d4a396f7a9fbaf  flac/common_voice_en_19783949.flac
b65388e0bf5a66636cf1d9ee5524aaa26e8bbe19a5c34225a7f136e85fcee564  flac/common_voice_en_19815230.flac
89a8e0400771837bbff7e6d066104e14fd2530f76f945bab445e0774b194c270  flac/common_voice_en_19956130.flac
aba0d19cdea95d667946ff668cf1388c42d51e1684914a16ab4707416d085e79  flac/common_voice_en_19960287.flac
6ccbb91e7143dd523310af07c242e82a12f50319d8f3a8c610da703d5113b7a5  flac/common_voice_en_20005990.flac
8c4904a717edfcb9058a3261b69c987ba3effdcdba3776b91c37e4d5d827ef15  flac/common_voice_en_20051938.flac
48c1e78d26d0613cf5a2c275623dadbbccdaeb1035bbf2b79d7c45cc73dc3f62  flac/common_voice_en_20227393.flac
eaaaae1a62bd5a3781cf44e6bd71544a137becb569cc43af6431bc8ece7482cf  flac/common_voice_en_20288523.flac
447a4ac5757b59b59b977eefd4d7948bbd364979e37449d3c616774d01662727  flac/common_voice_en_20304708.flac
9e1cf69c2a655f18dc499df7cc629b996212db9404a2b9800a20662b0582990d  flac/common_voice_en_20315440.flac
fc4d21cf98b61fcee4bc63e5c3237893eba2fe6b68ca10cac8d85788142ed2e4  flac/common_voice_en_20315442.flac
5c3048a699d92a9a6c3b8a62759a6324529729b7df67e72f297cd57bd6107588  flac/common_voice_en_20458962.flac
16a81537f634e91fa6e66fb5405b0a118724e39fd84600e5d885ebfc7a1c2142  flac/common_voice_en_204777.flac
977881728a10c411e7af0cf472d13651033bbcc38f8431a9fa4bf9f16a3d962d  flac/common_voice_en_20491390.flac
4ae6de1e7fd8213ce60f80d56d8f7de155d7fda84981bb8ec7888f4b27820e9e  flac/common_voice_en_20696080.flac
6320136dc91c0a2fb90e36e080227b3fbd028988909f46f63b36ece8c204a68f  flac/common_voice_en_20798109.flac
bcff7a384b4ad12ab5f69e2dd82a38d7dba9fb8e210f6aebeb985320f7cf4136  flac/common_voice_en_20874222.flac
86fbfcfe83e13105b845750fa9bca9ea4992e0919af6bde3ef4b675738131274  flac/common_voice_en_20893631.flac
71ea9fa91e8a192f741e88c68ac32f4a21228d702f8bd291914c45f6555e559b  flac/common_voice_en_20933103.flac
67ad9402988f11aec1c995468c792eac3e4b48f67a53cbcd58c34d13f7f4d20c  flac/common_voice_en_20951522.flac
0f36288f0159d3f5594e703734b9817de415605fb157586bbc80baf12794def9  flac/common_voice_en_21274493.flac
7f0454fdb6f295e24c56ec77eabeee9662d4e8ce8424d749fe195df92f701378  flac/common_voice_en_21375097.flac
25a62a7749b4a5365abee77d2ce0cb6779da0ec6eb86758ece890d2cd8d0e45c  flac/common_voice_en_22005802.flac
62e28b2ca803562da87b6f6cb39e8441d4dce873fc13534bd98424b9d8daf0e5  flac/common_voice_en_22060973.flac
70c4708bf5b7ee4aa13fb0266026e2dc3ef00488d9d4a85eebf0b0c1b4e9a7c4  flac/common_voice_en_22220015.flac
82625fa1c5c99838750976daff1d8dcd0fec196888530ec48d1e0a45dbb6b12b  flac/common_voice_en_22282341.flac
8d234ca5a05a7a8a7e99cb9bfdc20a197a37a31ba63f2fb7ff1ecc2b36cb7577  flac/common_voice_en_22734212.flac
20c0b0e1be77b8adb2f0e71b6b6190271260dcec12a44e836b213c8d15de53f1  flac/common_voice_en_22796563.flac
d33286af4599862fa8c1d335aa932ac8bcdc49fed75d9327662fc244a6dddfc4  flac/common_voice_en_22953446.flac
b984cb7f54d3385ad0ea50cb1065286bb2b8c94cc93c4b41129a8196bf3bb8ab  flac/common_voice_en_22959173.flac
b33b21614221c65650c40ecec2a876abe97c116eeb5a9080404fadae20686839  flac/common_voice_en_22979800.flac
dd32313dc19e1d01ef101fb5ce0aeae0bb805cf8ca1be4965ee2f6ca4c3e4283  flac/common_voice_en_23384793.flac
490eff9d31f30fa7e1433524aee202b8565952695cf20df6723962321952ec70  flac/common_voice_en_23776096.flac
3098e50b5a8b667ede45300daa3ace9aab8b378a94a4b9cbc9676757d35dfed1  flac/common_voice_en_495885.flac
f5c0ec8998502e4d7994bad5dabb2ef165f28474e8c86930c64a294a15aa7894  flac/common_voice_en_541572.flac
6e0449c84f145e75737b486e160ef9fad9f9295e66693e794f6a4459f5f1c844  flac/common_voice_en_581754.flac
010ffbeb1d065ea7a0a0b9b2c167980f03e9cecf020a00668ee9728341f594b5  flac/common_voice_en_677891.flac
bc926210e6359cae8f631c8748f570eba41b50cf7295f54a602a3d5e9df95db2  flac/common_voice_en_678304.flac
68fd51f8ede70113ad4b71a31e5e5a1f5e466f574cdfa1be76a422a16003edd8  flac/common_voice_en_78528.flac
794bb3391e11ddf6fb07e9b0e73b443d9537558465e780e0eef624087afe3147  utterances.tsv
"""),
        {}, mirror_only="its repository holds WAV originals and a CSV, converted here to FLAC and "
                        "utterances.tsv"),
)}
