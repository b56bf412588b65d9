# Julkinen yhteydenottolomake (meidän sivumme, upotettuna organisaation verkkosivulle) ja sen kuittaus.
forms-required = pakollinen
forms-optional = vapaaehtoinen
forms-send = Lähetä
forms-error-summary = Lomakkeessa on virhe
forms-error-prefix = Virhe:
forms-privacy = Miten { $organization } käsittelee tietojasi (tietosuojaseloste)
forms-from = Lomakkeen ylläpitäjä: { $organization }
forms-choose = Valitse yksi
forms-honeypot = Jätä tämä kenttä tyhjäksi
forms-proof-working = Tarkistamme, että lomakkeen lähettää ihminen. Tämä kestää muutaman sekunnin eikä vaadi sinulta mitään.
forms-proof-ready = Tarkistus on valmis: voit lähettää lomakkeen.
forms-proof-noscript = Lomakkeen roskapostisuojaus tarvitsee JavaScriptiä. Jos et voi käyttää sitä, ota yhteyttä: { $organization }, verkkosivuilla kerrotuilla tavoilla.
forms-field-required = Täytä tämä kenttä.
forms-field-too-long = Teksti on liian pitkä: enintään { $max } merkkiä.
forms-field-invalid-email = Anna sähköpostiosoite, esimerkiksi nimi@esimerkki.fi.
forms-field-invalid-choice = Valitse yksi vaihtoehdoista.
forms-field-consent-required = Lomaketta ei voi lähettää ilman tätä hyväksyntää.
forms-refused-too-fast = Lomake lähetettiin liian pian sen avaamisen jälkeen. Tarkista vastauksesi ja lähetä uudelleen.
forms-refused-proof = Roskapostitarkistus ei onnistunut. Lataa sivu uudelleen ja lähetä lomake uudelleen.
forms-refused-rate = Täältä on lähetetty liian monta kysymystä lyhyessä ajassa. Odota muutama minuutti ja yritä uudelleen.
forms-refused-too-large = Vastaukset ovat liian pitkiä. Lyhennä niitä ja lähetä uudelleen.
forms-receipt-title = Kiitos, kysymyksesi on lähetetty
forms-receipt-body = { $organization } on vastaanottanut kysymyksesi. Neuvojat vastaavat kysymyksiin saapumisjärjestyksessä.
forms-receipt-email = Saat vastauksen sähköpostiisi, jos annoit osoitteen.
forms-receipt-no-email = Et antanut sähköpostiosoitetta, joten vastausta ei voida lähettää sinulle. Voit ottaa yhteyttä suoraan: { $organization }.
forms-receipt-again = Lähetä uusi kysymys
forms-not-found-title = Lomake ei ole käytettävissä
forms-not-found-body = Lomaketta ei ole tai se ei ole tällä hetkellä käytössä.
forms-link-fallback = Avaa yhteydenottolomake
forms-mail-receipt-subject = Kysymyksesi on vastaanotettu ({ $organization })
forms-mail-receipt-body = Hei,

    { $organization } on vastaanottanut kysymyksen, jonka lähetit yhteydenottolomakkeella. Vastaus tulee tähän osoitteeseen.

    Tämä viesti on lähetetty automaattisesti; älä vastaa siihen.
forms-mail-reply-subject = Vastaus kysymykseesi ({ $organization })
forms-mail-new-subject = Uusia kysymyksiä yhteydenottojonossa
forms-mail-new-body = Hei,

    Organisaation { $organization } yhteydenottolomakkeilla on saapunut uusia kysymyksiä. Kirjaudu Ohjaukseen lukeaksesi ne: { $link }
